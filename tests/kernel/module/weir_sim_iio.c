// SPDX-License-Identifier: GPL-2.0
/*
 * weir_sim_iio - simulated IIO devices for weir's real-kernel test bench.
 *
 * Three platform devices, each an IIO device with two 16-bit channels (voltage0/voltage1,
 * le:s16/16>>0):
 *
 *  - weir-sim-adc:  input, on the kernel's DMA buffer layer (industrialio-buffer-dma), so
 *                   the mainline DMABUF ioctls and read() both work. Every block is filled with
 *                   a counter ramp: the n-th 16-bit value of the stream is (u16)n (restarting
 *                   at every enable), as weir's simulator does.
 *  - weir-sim-dac:  output, on the DMA buffer layer; consumes every block and exposes in sysfs
 *                   the bytes consumed (sim_bytes), the blocks completed (sim_blocks) and a
 *                   FNV-1a 64 checksum of the bytes (sim_checksum, hex), reset at every enable.
 *  - weir-sim-fifo: input, on a kfifo buffer (no DMABUF support): a work item pushes the same
 *                   ramp, never dropping a sample (it waits while the fifo is full).
 *
 * A block "transfer" takes transfer_us microseconds (module parameter) and runs in a work
 * item, never synchronously in submit() (the IIO core holds the queue lock there).
 */

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/mod_devicetable.h>
#include <linux/module.h>
#include <linux/platform_device.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include <linux/iio/buffer-dma.h>
#include <linux/iio/buffer.h>
#include <linux/iio/buffer_impl.h>
#include <linux/iio/iio.h>
#include <linux/iio/kfifo_buf.h>

static unsigned int transfer_us = 100;
module_param(transfer_us, uint, 0644);
MODULE_PARM_DESC(transfer_us, "Simulated transfer time of one DMA block, in microseconds");

static unsigned int fifo_scans_per_tick = 8192;
module_param(fifo_scans_per_tick, uint, 0644);
MODULE_PARM_DESC(fifo_scans_per_tick, "weir-sim-fifo: scans pushed per jiffy at most");

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL

enum weir_kind { WEIR_ADC, WEIR_DAC, WEIR_FIFO };

static const char *const weir_names[] = {
	[WEIR_ADC] = "weir-sim-adc",
	[WEIR_DAC] = "weir-sim-dac",
	[WEIR_FIFO] = "weir-sim-fifo",
};

struct weir_sim {
	struct iio_dev *indio_dev;
	enum weir_kind kind;
	struct iio_buffer *buffer; /* the DMA buffer (ADC/DAC) */

	spinlock_t lock;	   /* protects active and the statistics */
	struct list_head active;   /* blocks submitted, not yet transferred */
	struct work_struct work;   /* transfers the active blocks */
	bool stopping;
	struct delayed_work fifo_work;
	bool fifo_running;

	u64 pos;		   /* byte position in the ramp stream */
	u64 bytes;
	u64 blocks;
	u64 checksum;
};

/* The DMA buffer; freed by its release callback, which may run after the device is gone. */
struct weir_dma_buffer {
	struct iio_dma_buffer_queue queue;
	struct weir_sim *sim;
};

static struct weir_sim *queue_to_sim(struct iio_dma_buffer_queue *queue)
{
	return container_of(queue, struct weir_dma_buffer, queue)->sim;
}

/* ADC: writes the ramp into buf; DAC: consumes buf. */
static void weir_process(struct weir_sim *sim, u8 *buf, size_t len)
{
	size_t i;

	if (sim->kind == WEIR_ADC) {
		u64 pos = sim->pos;

		for (i = 0; i < len; i++, pos++) {
			u16 v = (u16)(pos >> 1);

			buf[i] = (pos & 1) ? (u8)(v >> 8) : (u8)v;
		}
		sim->pos = pos;
	} else {
		u64 h = sim->checksum;

		for (i = 0; i < len; i++)
			h = (h ^ buf[i]) * FNV64_PRIME;
		sim->checksum = h;
	}
}

static void weir_transfer(struct weir_sim *sim, struct iio_dma_buffer_block *block)
{
	size_t left = block->bytes_used;
	unsigned long flags;

	if (block->fileio || !block->sg_table) {
		weir_process(sim, block->vaddr, left);
	} else {
		struct sg_mapping_iter miter;
		unsigned int mflags = sim->kind == WEIR_ADC ? SG_MITER_TO_SG : SG_MITER_FROM_SG;

		sg_miter_start(&miter, block->sg_table->sgl, block->sg_table->orig_nents, mflags);
		while (left && sg_miter_next(&miter)) {
			size_t n = min(left, miter.length);

			weir_process(sim, miter.addr, n);
			left -= n;
		}
		sg_miter_stop(&miter);
		if (left)
			dev_warn(&sim->indio_dev->dev, "block shorter than bytes_used (%zu left)\n", left);
	}
	spin_lock_irqsave(&sim->lock, flags);
	sim->bytes += block->bytes_used - left;
	sim->blocks++;
	spin_unlock_irqrestore(&sim->lock, flags);
}

static void weir_work(struct work_struct *work)
{
	struct weir_sim *sim = container_of(work, struct weir_sim, work);
	struct iio_dma_buffer_block *block;

	while (!READ_ONCE(sim->stopping)) {
		spin_lock_irq(&sim->lock);
		block = list_first_entry_or_null(&sim->active, struct iio_dma_buffer_block, head);
		if (block)
			list_del_init(&block->head);
		spin_unlock_irq(&sim->lock);
		if (!block)
			return;
		if (transfer_us)
			usleep_range(transfer_us, transfer_us + transfer_us / 4 + 1);
		weir_transfer(sim, block);
		iio_dma_buffer_block_done(block);
	}
}

static int weir_submit(struct iio_dma_buffer_queue *queue, struct iio_dma_buffer_block *block)
{
	struct weir_sim *sim = queue_to_sim(queue);

	if (block->cyclic)
		return -EOPNOTSUPP;
	spin_lock_irq(&sim->lock);
	list_add_tail(&block->head, &sim->active);
	spin_unlock_irq(&sim->lock);
	queue_work(system_unbound_wq, &sim->work);
	return 0;
}

/* Called with the queue lock held, so no submit() runs concurrently. */
static void weir_abort(struct iio_dma_buffer_queue *queue)
{
	struct weir_sim *sim = queue_to_sim(queue);
	LIST_HEAD(aborted);

	WRITE_ONCE(sim->stopping, true);
	cancel_work_sync(&sim->work);
	spin_lock_irq(&sim->lock);
	list_splice_tail_init(&sim->active, &aborted);
	spin_unlock_irq(&sim->lock);
	iio_dma_buffer_block_list_abort(queue, &aborted);
	WRITE_ONCE(sim->stopping, false);
}

static const struct iio_dma_buffer_ops weir_dma_ops = {
	.submit = weir_submit,
	.abort = weir_abort,
};

static void weir_dma_buffer_release(struct iio_buffer *buffer)
{
	struct weir_dma_buffer *wb = container_of(buffer, struct weir_dma_buffer, queue.buffer);

	iio_dma_buffer_release(&wb->queue);
	kfree(wb);
}

static const struct iio_buffer_access_funcs weir_dma_access = {
	.read = iio_dma_buffer_read,
	.write = iio_dma_buffer_write,
	.set_bytes_per_datum = iio_dma_buffer_set_bytes_per_datum,
	.set_length = iio_dma_buffer_set_length,
	.request_update = iio_dma_buffer_request_update,
	.enable = iio_dma_buffer_enable,
	.disable = iio_dma_buffer_disable,
	.data_available = iio_dma_buffer_usage,
	.space_available = iio_dma_buffer_usage,
	.release = weir_dma_buffer_release,

	.enqueue_dmabuf = iio_dma_buffer_enqueue_dmabuf,
	.attach_dmabuf = iio_dma_buffer_attach_dmabuf,
	.detach_dmabuf = iio_dma_buffer_detach_dmabuf,
	.lock_queue = iio_dma_buffer_lock_queue,
	.unlock_queue = iio_dma_buffer_unlock_queue,
	.get_dma_dev = iio_dma_buffer_get_dma_dev,

	.modes = INDIO_BUFFER_HARDWARE,
	.flags = INDIO_BUFFER_FLAG_FIXED_WATERMARK,
};

/* Every enable starts a new stream: the ramp from 0, the statistics from 0. */
static int weir_preenable(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);

	spin_lock_irq(&sim->lock);
	sim->pos = 0;
	sim->bytes = 0;
	sim->blocks = 0;
	sim->checksum = FNV64_OFFSET;
	spin_unlock_irq(&sim->lock);
	return 0;
}

static const struct iio_buffer_setup_ops weir_dma_setup_ops = {
	.preenable = weir_preenable,
};

/* weir-sim-fifo: pushes the ramp into the kfifo, waiting (not dropping) while it is full. */
static void weir_fifo_work(struct work_struct *work)
{
	struct weir_sim *sim = container_of(to_delayed_work(work), struct weir_sim, fifo_work);
	struct iio_dev *indio_dev = sim->indio_dev;
	u16 scan[8] __aligned(8);
	unsigned int i, bit, n;

	for (i = 0; i < fifo_scans_per_tick && READ_ONCE(sim->fifo_running); i++) {
		u64 pos = sim->pos;

		n = 0;
		iio_for_each_active_channel(indio_dev, bit) {
			scan[n] = cpu_to_le16((u16)(pos + n));
			n++;
		}
		if (iio_push_to_buffers(indio_dev, scan))
			break; /* full: try again later, from the same value */
		spin_lock_irq(&sim->lock);
		sim->pos = pos + n;
		sim->bytes += 2 * n;
		spin_unlock_irq(&sim->lock);
	}
	if (READ_ONCE(sim->fifo_running))
		schedule_delayed_work(&sim->fifo_work, 1);
}

static int weir_fifo_postenable(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);

	WRITE_ONCE(sim->fifo_running, true);
	schedule_delayed_work(&sim->fifo_work, 0);
	return 0;
}

static int weir_fifo_predisable(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);

	WRITE_ONCE(sim->fifo_running, false);
	cancel_delayed_work_sync(&sim->fifo_work);
	return 0;
}

static const struct iio_buffer_setup_ops weir_fifo_setup_ops = {
	.preenable = weir_preenable,
	.postenable = weir_fifo_postenable,
	.predisable = weir_fifo_predisable,
};

static ssize_t sim_bytes_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = iio_priv(dev_to_iio_dev(dev));
	u64 v;

	spin_lock_irq(&sim->lock);
	v = sim->bytes;
	spin_unlock_irq(&sim->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

static ssize_t sim_blocks_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = iio_priv(dev_to_iio_dev(dev));
	u64 v;

	spin_lock_irq(&sim->lock);
	v = sim->blocks;
	spin_unlock_irq(&sim->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

static ssize_t sim_checksum_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = iio_priv(dev_to_iio_dev(dev));
	u64 v;

	spin_lock_irq(&sim->lock);
	v = sim->checksum;
	spin_unlock_irq(&sim->lock);
	return sysfs_emit(buf, "%016llx\n", v);
}

static DEVICE_ATTR_RO(sim_bytes);
static DEVICE_ATTR_RO(sim_blocks);
static DEVICE_ATTR_RO(sim_checksum);

static struct attribute *weir_attrs[] = {
	&dev_attr_sim_bytes.attr,
	&dev_attr_sim_blocks.attr,
	&dev_attr_sim_checksum.attr,
	NULL,
};

static const struct attribute_group weir_attr_group = {
	.attrs = weir_attrs,
};

static const struct iio_info weir_info = {
	.attrs = &weir_attr_group,
};

#define WEIR_CHANNEL(idx, out) {					\
	.type = IIO_VOLTAGE,						\
	.indexed = 1,							\
	.channel = (idx),						\
	.output = (out),						\
	.scan_index = (idx),						\
	.scan_type = {							\
		.sign = 's',						\
		.realbits = 16,						\
		.storagebits = 16,					\
		.shift = 0,						\
		.endianness = IIO_LE,					\
	},								\
}

static const struct iio_chan_spec weir_in_channels[] = {
	WEIR_CHANNEL(0, 0),
	WEIR_CHANNEL(1, 0),
};

static const struct iio_chan_spec weir_out_channels[] = {
	WEIR_CHANNEL(0, 1),
	WEIR_CHANNEL(1, 1),
};

static void weir_dma_buffer_free(void *data)
{
	struct weir_sim *sim = data;
	struct weir_dma_buffer *wb = container_of(sim->buffer, struct weir_dma_buffer, queue.buffer);

	iio_dma_buffer_exit(&wb->queue);
	cancel_work_sync(&sim->work);
	iio_buffer_put(sim->buffer);
}

static int weir_setup_dma_buffer(struct device *dev, struct weir_sim *sim)
{
	struct weir_dma_buffer *wb;
	int ret;

	wb = kzalloc(sizeof(*wb), GFP_KERNEL);
	if (!wb)
		return -ENOMEM;
	wb->sim = sim;
	iio_dma_buffer_init(&wb->queue, dev, &weir_dma_ops);
	wb->queue.buffer.access = &weir_dma_access;
	wb->queue.buffer.direction = sim->kind == WEIR_DAC ? IIO_BUFFER_DIRECTION_OUT
							   : IIO_BUFFER_DIRECTION_IN;
	sim->buffer = &wb->queue.buffer;

	ret = devm_add_action_or_reset(dev, weir_dma_buffer_free, sim);
	if (ret)
		return ret;
	sim->indio_dev->modes |= INDIO_BUFFER_HARDWARE;
	sim->indio_dev->setup_ops = &weir_dma_setup_ops;
	return iio_device_attach_buffer(sim->indio_dev, sim->buffer);
}

static int weir_probe(struct platform_device *pdev)
{
	struct device *dev = &pdev->dev;
	enum weir_kind kind = platform_get_device_id(pdev)->driver_data;
	struct iio_dev *indio_dev;
	struct weir_sim *sim;
	int ret;

	indio_dev = devm_iio_device_alloc(dev, sizeof(*sim));
	if (!indio_dev)
		return -ENOMEM;
	sim = iio_priv(indio_dev);
	sim->indio_dev = indio_dev;
	sim->kind = kind;
	spin_lock_init(&sim->lock);
	INIT_LIST_HEAD(&sim->active);
	INIT_WORK(&sim->work, weir_work);
	INIT_DELAYED_WORK(&sim->fifo_work, weir_fifo_work);
	sim->checksum = FNV64_OFFSET;

	indio_dev->name = weir_names[kind];
	indio_dev->info = &weir_info;
	indio_dev->modes = INDIO_DIRECT_MODE;
	indio_dev->channels = kind == WEIR_DAC ? weir_out_channels : weir_in_channels;
	indio_dev->num_channels = 2;

	if (kind == WEIR_FIFO)
		ret = devm_iio_kfifo_buffer_setup(dev, indio_dev, &weir_fifo_setup_ops);
	else
		ret = weir_setup_dma_buffer(dev, sim);
	if (ret)
		return dev_err_probe(dev, ret, "buffer setup\n");

	return devm_iio_device_register(dev, indio_dev);
}

static const struct platform_device_id weir_ids[] = {
	{ "weir-sim-adc", WEIR_ADC },
	{ "weir-sim-dac", WEIR_DAC },
	{ "weir-sim-fifo", WEIR_FIFO },
	{ }
};
MODULE_DEVICE_TABLE(platform, weir_ids);

static struct platform_driver weir_driver = {
	.driver = { .name = "weir-sim-iio" },
	.probe = weir_probe,
	.id_table = weir_ids,
};

static struct platform_device *weir_pdevs[ARRAY_SIZE(weir_names)];

static void weir_unregister_devices(void)
{
	int i;

	for (i = ARRAY_SIZE(weir_pdevs) - 1; i >= 0; i--) {
		if (!IS_ERR_OR_NULL(weir_pdevs[i]))
			platform_device_unregister(weir_pdevs[i]);
		weir_pdevs[i] = NULL;
	}
}

static int __init weir_init(void)
{
	int i, ret;

	ret = platform_driver_register(&weir_driver);
	if (ret)
		return ret;
	for (i = 0; i < ARRAY_SIZE(weir_names); i++) {
		struct platform_device_info info = {
			.name = weir_names[i],
			.id = PLATFORM_DEVID_NONE,
			.dma_mask = DMA_BIT_MASK(64),
		};

		weir_pdevs[i] = platform_device_register_full(&info);
		if (IS_ERR(weir_pdevs[i])) {
			ret = PTR_ERR(weir_pdevs[i]);
			weir_unregister_devices();
			platform_driver_unregister(&weir_driver);
			return ret;
		}
	}
	return 0;
}

static void __exit weir_exit(void)
{
	weir_unregister_devices();
	platform_driver_unregister(&weir_driver);
}

module_init(weir_init);
module_exit(weir_exit);

MODULE_AUTHOR("weir project");
MODULE_DESCRIPTION("Simulated IIO ADC/DAC (DMA buffer) and FIFO ADC for weir's kernel test bench");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IIO_DMA_BUFFER);
