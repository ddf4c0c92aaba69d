// SPDX-License-Identifier: GPL-2.0
/*
 * weir_sim_iio - simulated IIO devices for weir's real-kernel test bench.
 *
 * Platform devices, each an IIO device:
 *
 *  - weir-sim-adc:   input, two channels voltage0/voltage1 (le:s16/16>>0), on the kernel's DMA
 *                    buffer layer (industrialio-buffer-dma), so the mainline DMABUF ioctls and
 *                    read() both work. The stream is a counter ramp: the n-th 16-bit value is
 *                    (u16)n, from 0 at every enable, as weir's simulator produces it.
 *  - weir-sim-adi:   input, four channels voltage0..3 in Analog Devices' format (le:S12/16>>0:
 *                    12 bits, sign-extended to 16), DMA buffer.
 *  - weir-sim-mixed: input, DMA buffer, three channels in the other layouts converters meet:
 *                    voltage0 be:s12/16>>4 (shifted, big-endian), voltage1 le:s24/32>>8
 *                    (shifted, 32-bit storage), voltage2 le:s16/16X2>>0 (repeated).
 *  - weir-sim-dac:   output, two channels, DMA buffer; consumes every block and exposes in sysfs
 *                    the bytes consumed (sim_bytes), the blocks completed (sim_blocks) and a
 *                    FNV-1a 64 checksum of the bytes (sim_checksum, hex), reset at every enable,
 *                    and the bytes of the last block completed (sim_last_bytes).
 *  - weir-sim-fifo:  input, two channels, on a kfifo buffer (no DMABUF support): a work item
 *                    pushes the same ramp, never dropping a sample (it waits while the fifo is
 *                    full).
 *  - weir-sim-seed:  only when built against the seed's ported IIO core (the bench's seed run,
 *                    tests/kernel/seed): weir-sim-adc's ramp on a DMA buffer offering the
 *                    seed's ALLOC/ENQUEUE only, so mainline's ATTACH is EPERM. In that build
 *                    the other DMA devices offer both interfaces.
 *
 * The format devices' samples are a hash of their place in the stream (see weir_pattern()),
 * so a test can compute every sample of every channel, including the bits a converter must
 * ignore (below the shift) and the sign extension of the 'S' format.
 *
 * Unclocked (the default): a block "transfer" takes transfer_us microseconds and runs in a work
 * item, never synchronously in submit() (the IIO core holds the queue lock there); the stream
 * never loses a scan, it waits for the reader.
 *
 * Clocked (in_voltage_sampling_frequency > 0 on an input DMA device; module parameter adc_rate
 * sets it at probe): the ADC produces scans on its own clock from the moment the buffer is
 * enabled, scan s at enable + s / rate. Each queued block takes the next scans and completes
 * when its last scan has been produced (an hrtimer at that instant, completing it in softirq
 * context as a DMA controller's callback would; its data, known in advance, is written by the
 * work item as soon as the block is queued, so that the completion is not late by the time
 * the CPU takes to write it). When a scan is due and no
 * block is queued to take it, it is lost: the stream position moves on (the data shows the gap
 * as a jump of the ramp), and the device counts the lost scans and the gaps in sysfs
 * (lost_scans, lost_gaps, and lost_log: one line "DELIVERED LOST" per gap, the gap sitting
 * before the DELIVERED-th scan handed to user space; the first WEIR_GAP_LOG gaps). Beside it,
 * block_log lists every block submitted since enable (the first WEIR_BLOCK_LOG): the stream
 * scan it starts at, its scans, when it was submitted and when it completed, so a test can name
 * the device's block behind every piece of what user space received. All reset at enable. Each block's first stream position is fixed when it is submitted, so a late work item
 * never hides or invents a loss.
 *
 * Fault injection (module parameters, -1 = off, read at each completion): rx_fail_block /
 * tx_fail_block make the N-th DMABUF block completed since enable (0-based) on an input /
 * output device fail as the DMA buffer layer fails an aborted block: its fence is signalled
 * with -EINTR and bytes_used set to 0 (iio_dma_buffer_block_list_abort()). A failed RX block
 * is filled with 0xa5 first, so its bytes are recognisable if a reader ever takes them as data;
 * a failed TX block is not consumed.
 */

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/hrtimer.h>
#include <linux/ktime.h>
#include <linux/math64.h>
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
MODULE_PARM_DESC(transfer_us, "Simulated transfer time of one DMA block (unclocked), in microseconds");

static unsigned int fifo_scans_per_tick = 8192;
module_param(fifo_scans_per_tick, uint, 0644);
MODULE_PARM_DESC(fifo_scans_per_tick, "weir-sim-fifo: scans pushed per jiffy at most");

static unsigned int adc_rate;
module_param(adc_rate, uint, 0444);
MODULE_PARM_DESC(adc_rate, "Initial sampling frequency of the DMA input devices, scans/s; 0 = unclocked");

static int rx_fail_block = -1;
module_param(rx_fail_block, int, 0644);
MODULE_PARM_DESC(rx_fail_block, "This DMABUF block (0-based, since enable) of an input device fails with -EINTR; -1 = none");

static int tx_fail_block = -1;
module_param(tx_fail_block, int, 0644);
MODULE_PARM_DESC(tx_fail_block, "This DMABUF block (0-based, since enable) of the output device fails with -EINTR; -1 = none");

static int rx_fail_submit = -1;
module_param(rx_fail_submit, int, 0644);
MODULE_PARM_DESC(rx_fail_submit, "submit() of this DMABUF block (0-based, since enable) of an input device fails with -EIO; -1 = none");

#define FNV64_OFFSET 0xcbf29ce484222325ULL
#define FNV64_PRIME 0x100000001b3ULL
/* Blocks queued at once at most (weir asks for 1024 at most). */
#define WEIR_MAX_QUEUED 1024
/* Gaps listed in lost_log (a sysfs page holds about 150 lines). */
#define WEIR_GAP_LOG 128
/* Blocks listed in block_log (whole lines of at most 40 bytes in a sysfs page). */
#define WEIR_BLOCK_LOG 96
/* Bytes of one scan at most (every channel of the widest device enabled). */
#define WEIR_MAX_SCAN 32

enum weir_kind { WEIR_ADC, WEIR_ADI, WEIR_MIXED, WEIR_DAC, WEIR_FIFO };

static const char *const weir_names[] = {
	[WEIR_ADC] = "weir-sim-adc",
	[WEIR_ADI] = "weir-sim-adi",
	[WEIR_MIXED] = "weir-sim-mixed",
	[WEIR_DAC] = "weir-sim-dac",
	[WEIR_FIFO] = "weir-sim-fifo",
};

/* A submitted block, beside the active list (same order): where its data begins in the
 * stream, and what its transfer did once done. */
struct weir_slot {
	u64 start;	/* stream byte position of its first byte */
	s64 moved;	/* bytes written or consumed; -1 while not transferred yet */
	bool fail;	/* fault injection: completes as failed */
	u64 seq;	/* which block submitted since enable (0, 1, ...) */
};

/*
 * One block submitted since enable, as block_log lists it: the device's own record of which
 * part of the stream each block held and when it completed, so that a test can tell a block
 * the device never delivered from one the reader lost.
 */
struct weir_block_rec {
	u64 start;	/* stream scan of its first scan */
	u32 scans;
	s64 submit_us;	/* CLOCK_MONOTONIC, µs */
	s64 done_us;	/* CLOCK_MONOTONIC, µs; -1 while not completed (or aborted) */
	char how;	/* completed by the timer 't', by the work item 'w'; failed 'f' */
};

/* One gap of a clocked stream. */
struct weir_gap {
	u64 delivered; /* scans handed to user space before the gap */
	u64 lost;
};

/* Where each byte of a scan comes from (computed at enable from the enabled channels). */
struct weir_elem {
	const struct iio_chan_spec *chan; /* NULL: padding */
	u8 repeat;			  /* which repetition of the channel */
	u8 byte;			  /* byte of the storage word, in memory order */
};

struct weir_sim {
	struct iio_dev *indio_dev;
	enum weir_kind kind;
	struct iio_buffer *buffer; /* the DMA buffer (DMA devices) */

	spinlock_t lock;	   /* protects everything below but the work items */
	struct list_head active;   /* blocks submitted, not yet completed, in order */
	struct weir_slot slots[WEIR_MAX_QUEUED]; /* of the active blocks (a ring) */
	unsigned int start_head, start_count;
	struct work_struct work;   /* transfers the active blocks */
	bool stopping;
	struct delayed_work fifo_work;
	bool fifo_running;

	/* The scan layout of the enabled channels. */
	unsigned int scan_bytes;
	struct weir_elem elems[WEIR_MAX_SCAN];

	/* The clock (input DMA devices). */
	unsigned int rate;	   /* configured, scans/s; 0 = unclocked */
	unsigned int clock_rate;   /* the rate of this stream (taken at enable) */
	bool clock_on;		   /* between postenable and predisable */
	ktime_t t0;
	struct hrtimer timer;	   /* fires when the first active block is full */
	u64 end;		   /* stream byte position after the last submitted block */
	u64 lost_scans, lost_gaps;
	struct weir_gap gaps[WEIR_GAP_LOG];
	u64 queued_total;	   /* blocks submitted since enable */
	struct weir_block_rec recs[WEIR_BLOCK_LOG];

	u64 pos;		   /* weir-sim-fifo: value position in the ramp */
	u64 bytes;
	u64 blocks;		   /* blocks completed (or failed) since enable */
	u64 submits;		   /* blocks submitted since enable */
	u64 checksum;
	u64 last_bytes;		   /* bytes moved by the last block completed (not failed) */
	bool seed_only;		   /* weir-sim-seed: the seed's buffer operations only */
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

static bool weir_is_input(const struct weir_sim *sim)
{
	return sim->kind != WEIR_DAC;
}

/*
 * The sample of a format device's channel: a hash of the scan number, the channel's scan index
 * and the repetition, so every position has its own value, both signs and all bit patterns
 * occur. The raw value is the hash's top `realbits` bits; below the shift go the hash's low
 * bits (which a converter must discard); above realbits + shift the sign extension for 'S',
 * zeros otherwise. The guest tests compute the same function.
 */
static u64 weir_pattern(u64 scan, const struct iio_chan_spec *chan, unsigned int repeat)
{
	const struct iio_scan_type *t = &chan->scan_type;
	u32 h = (u32)((scan << 4) | (chan->scan_index << 1) | repeat) * 2654435761u;
	u64 raw = h >> (32 - t->realbits);
	u64 word = (raw << t->shift) | (h & ((1u << t->shift) - 1));

	if (t->sign == 'S' && (raw >> (t->realbits - 1)) & 1)
		word |= GENMASK_ULL(t->storagebits - 1, t->realbits + t->shift);
	return word;
}

/* Byte o of scan `scan` of the enabled channels, into scan[]. */
static void weir_build_scan(const struct weir_sim *sim, u64 scan, u8 *out)
{
	unsigned int o;

	if (sim->kind == WEIR_ADC || sim->kind == WEIR_FIFO) {
		/* The ramp: the n-th 16-bit value of the stream is (u16)n. */
		u64 n = scan * (sim->scan_bytes / 2);

		for (o = 0; o + 1 < sim->scan_bytes; o += 2, n++) {
			out[o] = (u8)n;
			out[o + 1] = (u8)(n >> 8);
		}
		return;
	}
	for (o = 0; o < sim->scan_bytes; o++) {
		const struct weir_elem *e = &sim->elems[o];
		unsigned int size, shift;
		u64 word;

		if (!e->chan) {
			out[o] = 0;
			continue;
		}
		size = e->chan->scan_type.storagebits / 8;
		word = weir_pattern(scan, e->chan, e->repeat);
		shift = e->chan->scan_type.endianness == IIO_BE ? 8 * (size - 1 - e->byte)
								 : 8 * e->byte;
		out[o] = (u8)(word >> shift);
	}
}

/* Writes the stream from byte position `start` into consecutive buffers. */
struct weir_writer {
	const struct weir_sim *sim;
	u64 scan;
	u32 off;
	u8 bytes[WEIR_MAX_SCAN];
};

static void weir_writer_init(struct weir_writer *w, const struct weir_sim *sim, u64 start)
{
	w->sim = sim;
	w->scan = div_u64_rem(start, sim->scan_bytes, &w->off);
	weir_build_scan(sim, w->scan, w->bytes);
}

static void weir_writer_put(struct weir_writer *w, u8 *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		buf[i] = w->bytes[w->off];
		if (++w->off == w->sim->scan_bytes) {
			w->off = 0;
			w->scan++;
			weir_build_scan(w->sim, w->scan, w->bytes);
		}
	}
}

/* DAC: consumes buf. */
static void weir_consume(struct weir_sim *sim, const u8 *buf, size_t len)
{
	u64 h = sim->checksum;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ buf[i]) * FNV64_PRIME;
	sim->checksum = h;
}

/*
 * Moves a block's bytes: an input device writes the stream from `start` (or `poison` bytes),
 * the DAC consumes it. Returns the bytes moved.
 */
static size_t weir_transfer(struct weir_sim *sim, struct iio_dma_buffer_block *block, u64 start,
			    int poison)
{
	size_t left = block->bytes_used;
	struct weir_writer w = {};

	if (weir_is_input(sim) && poison < 0)
		weir_writer_init(&w, sim, start);
	if (block->fileio || !block->sg_table) {
		if (poison >= 0)
			memset(block->vaddr, poison, left);
		else if (weir_is_input(sim))
			weir_writer_put(&w, block->vaddr, left);
		else
			weir_consume(sim, block->vaddr, left);
		return left;
	} else {
		struct sg_mapping_iter miter;
		unsigned int mflags = weir_is_input(sim) ? SG_MITER_TO_SG : SG_MITER_FROM_SG;

		sg_miter_start(&miter, block->sg_table->sgl, block->sg_table->orig_nents, mflags);
		while (left && sg_miter_next(&miter)) {
			size_t n = min(left, miter.length);

			if (poison >= 0)
				memset(miter.addr, poison, n);
			else if (weir_is_input(sim))
				weir_writer_put(&w, miter.addr, n);
			else
				weir_consume(sim, miter.addr, n);
			left -= n;
		}
		sg_miter_stop(&miter);
		if (left)
			dev_warn(&sim->indio_dev->dev, "block shorter than bytes_used (%zu left)\n", left);
	}
	return block->bytes_used - left;
}

/* Scans the clock has produced by `now`. */
static u64 weir_produced(const struct weir_sim *sim, ktime_t now)
{
	s64 ns = ktime_to_ns(ktime_sub(now, sim->t0));

	return ns <= 0 ? 0 : mul_u64_u32_div(ns, sim->clock_rate, NSEC_PER_SEC);
}

static bool weir_clocked(const struct weir_sim *sim)
{
	return sim->clock_rate && weir_is_input(sim);
}

/*
 * Lock held. The scans due by `now` that no submitted block takes are lost: counts them (one
 * gap) and moves the stream on. With `commit` false only reports them (a sysfs read of a gap
 * still open). Returns the scans lost.
 */
static u64 weir_account_loss(struct weir_sim *sim, ktime_t now, bool commit)
{
	u64 due, lost;

	if (!weir_clocked(sim) || !sim->clock_on)
		return 0;
	due = weir_produced(sim, now) * sim->scan_bytes;
	if (due <= sim->end)
		return 0;
	lost = div_u64(due - sim->end, sim->scan_bytes);
	if (commit) {
		u64 delivered = div_u64(sim->end, sim->scan_bytes) - sim->lost_scans;

		if (sim->lost_gaps < WEIR_GAP_LOG) {
			sim->gaps[sim->lost_gaps].delivered = delivered;
			sim->gaps[sim->lost_gaps].lost = lost;
		}
		sim->lost_scans += lost;
		sim->lost_gaps++;
		sim->end += lost * sim->scan_bytes;
	}
	return lost;
}

/*
 * ---- Stall injection (the guest's weir_run_rx_stall_* tests) ----------------------------------
 * stall_after = N: a DMA device completes N blocks since enable, then none at all until it is
 * disabled, as a device whose clock or DMA engine stopped: blocks stay queued, no fence
 * signals. Disabling aborts them as usual (-EINTR), so a reader that stops cleanly still gets
 * every block back. Read at every completion; -1 = never.
 */
static int stall_after = -1;
module_param(stall_after, int, 0644);
MODULE_PARM_DESC(stall_after, "DMA devices complete this many blocks since enable, then none until disabled; -1 = never stall");

static bool weir_stalled(const struct weir_sim *sim)
{
	int n = READ_ONCE(stall_after);

	return n >= 0 && sim->blocks >= (u64)n;
}
/* ---- end of stall injection ------------------------------------------------------------------ */

/* Lock held. Records in block_log that the block of `slot` completed, `how`. */
static void weir_log_done(struct weir_sim *sim, const struct weir_slot *slot, char how)
{
	if (slot->seq < WEIR_BLOCK_LOG) {
		sim->recs[slot->seq].done_us = div_s64(ktime_to_ns(ktime_get()), NSEC_PER_USEC);
		sim->recs[slot->seq].how = how;
	}
}

/*
 * The clock reached the end of the first queued block: complete it here, in softirq context,
 * as a DMA controller's completion callback would (iio_dma_buffer_block_done() is made for
 * that), so that the completion is not late by a work item's scheduling. The work item then
 * writes the next block and arms the timer for it; it also takes over whatever this cannot
 * do here (a block not written yet, a failing one).
 */
static enum hrtimer_restart weir_timer_fired(struct hrtimer *timer)
{
	struct weir_sim *sim = container_of(timer, struct weir_sim, timer);
	struct iio_dma_buffer_block *block;
	unsigned long flags;

	spin_lock_irqsave(&sim->lock, flags);
	block = list_first_entry_or_null(&sim->active, struct iio_dma_buffer_block, head);
	if (block && sim->clock_on && !READ_ONCE(sim->stopping) && !weir_stalled(sim)) {
		struct weir_slot *slot = &sim->slots[sim->start_head];
		u64 full = div_u64(slot->start + block->bytes_used, sim->scan_bytes);

		if (slot->moved >= 0 && !slot->fail && weir_produced(sim, ktime_get()) >= full) {
			weir_log_done(sim, slot, 't');
			list_del_init(&block->head);
			sim->start_head = (sim->start_head + 1) % WEIR_MAX_QUEUED;
			sim->start_count--;
			sim->blocks++;
			sim->bytes += slot->moved;
			spin_unlock_irqrestore(&sim->lock, flags);
			iio_dma_buffer_block_done(block);
			queue_work(system_unbound_wq, &sim->work);
			return HRTIMER_NORESTART;
		}
	}
	spin_unlock_irqrestore(&sim->lock, flags);
	queue_work(system_unbound_wq, &sim->work);
	return HRTIMER_NORESTART;
}

/* Whether `block`, the `ahead`-th queued (0: the first), is the completion fault injection
 * asks to fail: blocks complete in order, so it is completion sim->blocks + ahead. */
static bool weir_should_fail(const struct weir_sim *sim, const struct iio_dma_buffer_block *block,
			     unsigned int ahead)
{
	int n = weir_is_input(sim) ? READ_ONCE(rx_fail_block) : READ_ONCE(tx_fail_block);

	return !block->fileio && n >= 0 && sim->blocks + ahead == (u64)n;
}

/*
 * Lock held; clocked devices. Finds the first queued block whose data is not written yet:
 * returns it (and its slot and place in the queue), or NULL when every queued block is
 * written.
 */
static struct iio_dma_buffer_block *weir_unwritten(struct weir_sim *sim, struct weir_slot **slot,
						   unsigned int *ahead)
{
	struct iio_dma_buffer_block *b;
	unsigned int i = 0;

	list_for_each_entry(b, &sim->active, head) {
		struct weir_slot *s = &sim->slots[(sim->start_head + i) % WEIR_MAX_QUEUED];

		if (s->moved < 0) {
			*slot = s;
			*ahead = i;
			return b;
		}
		i++;
	}
	return NULL;
}

static void weir_work(struct work_struct *work)
{
	struct weir_sim *sim = container_of(work, struct weir_sim, work);
	struct iio_dma_buffer_block *block;
	struct weir_slot *slot;
	bool fail;
	s64 moved;

	while (!READ_ONCE(sim->stopping)) {
		spin_lock_irq(&sim->lock);
		block = list_first_entry_or_null(&sim->active, struct iio_dma_buffer_block, head);
		if (!block || (weir_clocked(sim) && !sim->clock_on)) {
			/* Nothing queued; or clocked and not started yet (postenable queues us) or
			 * stopping. */
			spin_unlock_irq(&sim->lock);
			return;
		}
		if (weir_stalled(sim)) {
			/* Stall injection: leave the blocks queued; the abort at disable ends them. */
			spin_unlock_irq(&sim->lock);
			return;
		}
		if (weir_clocked(sim)) {
			/* Write ahead: a queued block's data is known from its submit (its start is
			 * fixed then), so write every queued block now, not when it becomes the
			 * first; the timer then completes each one when its last scan is due. Written
			 * only once first, a block completed whenever this work item got the CPU
			 * after the previous completion — under load tens of ms after its last scan
			 * (seen: 68 ms), a completion later than the device's clock, which a DMA
			 * engine does not have and the overrun test's premise excludes. Only this work
			 * item writes slots, the timer completes only written ones, and abort() waits
			 * for this work item: the block and its slot stay valid while written. */
			unsigned int ahead;
			struct iio_dma_buffer_block *b = weir_unwritten(sim, &slot, &ahead);

			if (b) {
				u64 start = slot->start;

				fail = weir_should_fail(sim, b, ahead);
				spin_unlock_irq(&sim->lock);
				if (fail)
					moved = weir_is_input(sim) ? weir_transfer(sim, b, 0, 0xa5) : 0;
				else
					moved = weir_transfer(sim, b, start, -1);
				spin_lock_irq(&sim->lock);
				slot->moved = moved;
				slot->fail = fail;
				spin_unlock_irq(&sim->lock);
				continue;
			}
		}
		slot = &sim->slots[sim->start_head];
		if (slot->moved < 0) {
			u64 start = slot->start;

			/* Only this work item takes blocks off the ring, and abort() waits for it:
			 * the slot stays the first while it is written. The block stays on the
			 * active list meanwhile, so that a submit() sees a queue that is not empty,
			 * as it is in stream time. (A clocked block was written ahead, above, once
			 * queued.) A block completes when its last scan is
			 * due, as a DMA completion comes when the block is full. */
			fail = weir_should_fail(sim, block, 0);
			spin_unlock_irq(&sim->lock);
			if (!weir_clocked(sim) && transfer_us)
				usleep_range(transfer_us, transfer_us + transfer_us / 4 + 1);
			if (fail)
				moved = weir_is_input(sim) ? weir_transfer(sim, block, 0, 0xa5) : 0;
			else
				moved = weir_transfer(sim, block, start, -1);
			spin_lock_irq(&sim->lock);
			slot->moved = moved;
			slot->fail = fail;
		}
		if (weir_clocked(sim)) {
			u64 full = div_u64(slot->start + block->bytes_used, sim->scan_bytes);

			if (weir_produced(sim, ktime_get()) < full) {
				/* Not all its scans are due yet: wake when they are (+1 ns: the
				 * division rounds down). */
				ktime_t at = ktime_add_ns(sim->t0, mul_u64_u32_div(full, NSEC_PER_SEC,
										 sim->clock_rate) + 1);

				hrtimer_start(&sim->timer, at, HRTIMER_MODE_ABS_SOFT);
				spin_unlock_irq(&sim->lock);
				return;
			}
		}
		fail = slot->fail;
		moved = slot->moved;
		weir_log_done(sim, slot, fail ? 'f' : 'w');
		list_del_init(&block->head);
		sim->start_head = (sim->start_head + 1) % WEIR_MAX_QUEUED;
		sim->start_count--;
		sim->blocks++;
		if (!fail) {
			sim->bytes += moved;
			sim->last_bytes = moved;
		}
		spin_unlock_irq(&sim->lock);
		if (fail) {
			LIST_HEAD(failed);

			dev_info(&sim->indio_dev->dev, "fault injection: block %llu fails\n",
				 sim->blocks - 1);
			list_add_tail(&block->head, &failed);
			iio_dma_buffer_block_list_abort(block->queue, &failed);
		} else {
			iio_dma_buffer_block_done(block);
		}
	}
}

static int weir_submit(struct iio_dma_buffer_queue *queue, struct iio_dma_buffer_block *block)
{
	struct weir_sim *sim = queue_to_sim(queue);
	struct weir_slot *slot;

	if (block->cyclic)
		return -EOPNOTSUPP;
	if (weir_is_input(sim) && !block->fileio) {
		int n = READ_ONCE(rx_fail_submit);
		bool fail;

		spin_lock_irq(&sim->lock);
		fail = n >= 0 && sim->submits == (u64)n;
		sim->submits++;
		spin_unlock_irq(&sim->lock);
		if (fail) {
			dev_info(&sim->indio_dev->dev, "fault injection: submit of block %d fails\n", n);
			weir_transfer(sim, block, 0, 0xa5);
			return -EIO;
		}
	}
	spin_lock_irq(&sim->lock);
	if (sim->start_count == WEIR_MAX_QUEUED) {
		spin_unlock_irq(&sim->lock);
		return -EBUSY;
	}
	/* Scans due before this block arrived that no earlier block takes are lost. */
	weir_account_loss(sim, ktime_get(), true);
	slot = &sim->slots[(sim->start_head + sim->start_count) % WEIR_MAX_QUEUED];
	slot->start = sim->end;
	slot->moved = -1;
	slot->fail = false;
	slot->seq = sim->queued_total++;
	if (slot->seq < WEIR_BLOCK_LOG) {
		struct weir_block_rec *rec = &sim->recs[slot->seq];

		rec->start = div_u64(slot->start, sim->scan_bytes);
		rec->scans = div_u64(block->bytes_used, sim->scan_bytes);
		rec->submit_us = div_s64(ktime_to_ns(ktime_get()), NSEC_PER_USEC);
		rec->done_us = -1;
		rec->how = '-';
	}
	sim->start_count++;
	sim->end += block->bytes_used;
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

	/* The work re-arms the timer and the timer queues the work: stop both, in an order that
	 * leaves neither pending (the work checks `stopping` before arming). */
	WRITE_ONCE(sim->stopping, true);
	hrtimer_cancel(&sim->timer);
	cancel_work_sync(&sim->work);
	hrtimer_cancel(&sim->timer);
	spin_lock_irq(&sim->lock);
	list_splice_tail_init(&sim->active, &aborted);
	sim->start_head = 0;
	sim->start_count = 0;
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

#ifdef IIO_BUFFER_DMABUF_ALLOC_IOCTL
	/* The seed's interface: only in the bench's build against its ported IIO core. */
	.alloc_dmabuf = iio_dma_buffer_alloc_dmabuf,
	.enqueue_seed_dmabuf = iio_dma_buffer_enqueue_seed_dmabuf,
#endif

	.modes = INDIO_BUFFER_HARDWARE,
	.flags = INDIO_BUFFER_FLAG_FIXED_WATERMARK,
};

#ifdef IIO_BUFFER_DMABUF_ALLOC_IOCTL
/*
 * weir-sim-seed: a buffer with the seed's operations only, as a vendor kernel's DMA buffer
 * carrying the 2021 series: mainline's ATTACH finds no attach_dmabuf and refuses with EPERM
 * (as for a buffer without DMABUF support), the seed's ALLOC/ENQUEUE work.
 */
#define WEIR_SEED_ONLY 0x100 /* platform_device_id flag beside the kind */

static const struct iio_buffer_access_funcs weir_seed_only_access = {
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

	.alloc_dmabuf = iio_dma_buffer_alloc_dmabuf,
	.enqueue_seed_dmabuf = iio_dma_buffer_enqueue_seed_dmabuf,

	.modes = INDIO_BUFFER_HARDWARE,
	.flags = INDIO_BUFFER_FLAG_FIXED_WATERMARK,
};
#endif

/*
 * The layout of one scan of the enabled channels, by the rule the IIO core documents and
 * applies (iio_compute_scan_bytes()): channels in scan index order, each element (storage
 * bytes times repeat) aligned to its own size, the scan padded to its largest element.
 */
static int weir_compute_layout(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);
	unsigned int bytes = 0, largest = 1, i, r, b;
	int bit;

	memset(sim->elems, 0, sizeof(sim->elems));
	iio_for_each_active_channel(indio_dev, bit) {
		const struct iio_chan_spec *chan = NULL;
		unsigned int size, repeat, len;

		for (i = 0; i < indio_dev->num_channels; i++)
			if (indio_dev->channels[i].scan_index == bit)
				chan = &indio_dev->channels[i];
		if (!chan)
			return -EINVAL;
		size = chan->scan_type.storagebits / 8;
		repeat = max_t(unsigned int, chan->scan_type.repeat, 1);
		len = size * repeat;
		bytes = ALIGN(bytes, len);
		if (bytes + len > WEIR_MAX_SCAN)
			return -EINVAL;
		for (r = 0; r < repeat; r++)
			for (b = 0; b < size; b++) {
				sim->elems[bytes + r * size + b].chan = chan;
				sim->elems[bytes + r * size + b].repeat = r;
				sim->elems[bytes + r * size + b].byte = b;
			}
		bytes += len;
		largest = max(largest, len);
	}
	bytes = ALIGN(bytes, largest);
	if (!bytes)
		return -EINVAL;
	if (bytes != indio_dev->scan_bytes) {
		dev_err(&indio_dev->dev, "scan layout: %u bytes, the core says %d\n", bytes,
			indio_dev->scan_bytes);
		return -EINVAL;
	}
	sim->scan_bytes = bytes;
	return 0;
}

/* Every enable starts a new stream: from position 0, the statistics from 0. */
static int weir_preenable(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);
	int ret = weir_compute_layout(indio_dev);

	if (ret)
		return ret;
	spin_lock_irq(&sim->lock);
	sim->pos = 0;
	sim->end = 0;
	sim->bytes = 0;
	sim->blocks = 0;
	sim->submits = 0;
	sim->checksum = FNV64_OFFSET;
	sim->last_bytes = 0;
	sim->lost_scans = 0;
	sim->lost_gaps = 0;
	sim->queued_total = 0;
	sim->clock_rate = weir_is_input(sim) ? sim->rate : 0;
	sim->clock_on = false;
	spin_unlock_irq(&sim->lock);
	return 0;
}

/* The clock starts once the buffer (and its queued blocks) is enabled. */
static int weir_postenable(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);

	spin_lock_irq(&sim->lock);
	sim->t0 = ktime_get();
	sim->clock_on = true;
	spin_unlock_irq(&sim->lock);
	queue_work(system_unbound_wq, &sim->work);
	return 0;
}

/* The clock stops before the DMA buffer aborts the blocks still queued. */
static int weir_predisable(struct iio_dev *indio_dev)
{
	struct weir_sim *sim = iio_priv(indio_dev);

	spin_lock_irq(&sim->lock);
	/* Scans due until now that no block takes were lost too. */
	weir_account_loss(sim, ktime_get(), true);
	sim->clock_on = false;
	spin_unlock_irq(&sim->lock);
	return 0;
}

static const struct iio_buffer_setup_ops weir_dma_setup_ops = {
	.preenable = weir_preenable,
	.postenable = weir_postenable,
	.predisable = weir_predisable,
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

static struct weir_sim *dev_to_sim(struct device *dev)
{
	return iio_priv(dev_to_iio_dev(dev));
}

/* A u64 of the device, read under its lock. */
#define WEIR_U64_ATTR(name, field, fmt)						\
static ssize_t name##_show(struct device *dev, struct device_attribute *attr, char *buf) \
{										\
	struct weir_sim *sim = dev_to_sim(dev);					\
	u64 v;									\
										\
	spin_lock_irq(&sim->lock);						\
	v = sim->field;								\
	spin_unlock_irq(&sim->lock);						\
	return sysfs_emit(buf, fmt "\n", v);					\
}										\
static DEVICE_ATTR_RO(name)

WEIR_U64_ATTR(sim_bytes, bytes, "%llu");
WEIR_U64_ATTR(sim_blocks, blocks, "%llu");
WEIR_U64_ATTR(sim_checksum, checksum, "%016llx");
WEIR_U64_ATTR(sim_last_bytes, last_bytes, "%llu");

/* The counts include a gap still open (no block queued right now). */
static ssize_t lost_scans_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = dev_to_sim(dev);
	u64 v;

	spin_lock_irq(&sim->lock);
	v = sim->lost_scans + weir_account_loss(sim, ktime_get(), false);
	spin_unlock_irq(&sim->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

static ssize_t lost_gaps_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = dev_to_sim(dev);
	u64 v;

	spin_lock_irq(&sim->lock);
	v = sim->lost_gaps + (weir_account_loss(sim, ktime_get(), false) ? 1 : 0);
	spin_unlock_irq(&sim->lock);
	return sysfs_emit(buf, "%llu\n", v);
}

/* The gaps closed so far, in stream order: "DELIVERED LOST" per line. */
static ssize_t lost_log_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = dev_to_sim(dev);
	struct weir_gap *gaps;
	unsigned int n, i;
	int len = 0;

	gaps = kmalloc_array(WEIR_GAP_LOG, sizeof(*gaps), GFP_KERNEL);
	if (!gaps)
		return -ENOMEM;
	spin_lock_irq(&sim->lock);
	n = min_t(u64, sim->lost_gaps, WEIR_GAP_LOG);
	memcpy(gaps, sim->gaps, n * sizeof(*gaps));
	spin_unlock_irq(&sim->lock);
	/* Whole lines only: a line is 42 bytes at most. */
	for (i = 0; i < n && len <= PAGE_SIZE - 43; i++)
		len += sysfs_emit_at(buf, len, "%llu %llu\n", gaps[i].delivered, gaps[i].lost);
	kfree(gaps);
	return len;
}

/*
 * The blocks submitted since enable, in submission order (the order the DMA buffer layer
 * queued them, which is the order user space enqueued them), the first WEIR_BLOCK_LOG:
 * "START SCANS SUBMIT_US DONE_US HOW" per line — the stream scan of its first scan, its scans,
 * when it was submitted and when it completed (CLOCK_MONOTONIC µs; "-" and "-": not completed,
 * i.e. aborted at disable or still queued), and what completed it (t: the clock's timer, w: the
 * work item, f: failed by fault injection).
 */
static ssize_t block_log_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct weir_sim *sim = dev_to_sim(dev);
	struct weir_block_rec *recs;
	unsigned int n, i;
	int len = 0;

	recs = kmalloc_array(WEIR_BLOCK_LOG, sizeof(*recs), GFP_KERNEL);
	if (!recs)
		return -ENOMEM;
	spin_lock_irq(&sim->lock);
	n = min_t(u64, sim->queued_total, WEIR_BLOCK_LOG);
	memcpy(recs, sim->recs, n * sizeof(*recs));
	spin_unlock_irq(&sim->lock);
	/* Whole lines only: a line is 2 * 20 + 10 + 20 + 5 bytes at most, in practice < 40. */
	for (i = 0; i < n && len <= PAGE_SIZE - 96; i++) {
		if (recs[i].done_us < 0)
			len += sysfs_emit_at(buf, len, "%llu %u %lld - -\n", recs[i].start,
					     recs[i].scans, recs[i].submit_us);
		else
			len += sysfs_emit_at(buf, len, "%llu %u %lld %lld %c\n", recs[i].start,
					     recs[i].scans, recs[i].submit_us, recs[i].done_us,
					     recs[i].how);
	}
	kfree(recs);
	return len;
}

static DEVICE_ATTR_RO(block_log);
static DEVICE_ATTR_RO(lost_scans);
static DEVICE_ATTR_RO(lost_gaps);
static DEVICE_ATTR_RO(lost_log);

static struct attribute *weir_attrs[] = {
	&dev_attr_sim_bytes.attr,
	&dev_attr_sim_blocks.attr,
	&dev_attr_sim_checksum.attr,
	&dev_attr_sim_last_bytes.attr,
	NULL,
};

static struct attribute *weir_clocked_attrs[] = {
	&dev_attr_sim_bytes.attr,
	&dev_attr_sim_blocks.attr,
	&dev_attr_sim_checksum.attr,
	&dev_attr_sim_last_bytes.attr,
	&dev_attr_lost_scans.attr,
	&dev_attr_lost_gaps.attr,
	&dev_attr_lost_log.attr,
	&dev_attr_block_log.attr,
	NULL,
};

static const struct attribute_group weir_attr_group = {
	.attrs = weir_attrs,
};

static const struct attribute_group weir_clocked_attr_group = {
	.attrs = weir_clocked_attrs,
};

static int weir_read_raw(struct iio_dev *indio_dev, struct iio_chan_spec const *chan,
			 int *val, int *val2, long mask)
{
	struct weir_sim *sim = iio_priv(indio_dev);

	if (mask != IIO_CHAN_INFO_SAMP_FREQ)
		return -EINVAL;
	spin_lock_irq(&sim->lock);
	*val = sim->rate;
	spin_unlock_irq(&sim->lock);
	return IIO_VAL_INT;
}

/* The rate of the next stream; refused (EBUSY) while the buffer is enabled. */
static int weir_write_raw(struct iio_dev *indio_dev, struct iio_chan_spec const *chan,
			  int val, int val2, long mask)
{
	struct weir_sim *sim = iio_priv(indio_dev);
	int ret;

	if (mask != IIO_CHAN_INFO_SAMP_FREQ)
		return -EINVAL;
	if (val < 0 || val2)
		return -EINVAL;
	ret = iio_device_claim_direct_mode(indio_dev);
	if (ret)
		return ret;
	spin_lock_irq(&sim->lock);
	sim->rate = val;
	spin_unlock_irq(&sim->lock);
	iio_device_release_direct_mode(indio_dev);
	return 0;
}

static int weir_write_raw_get_fmt(struct iio_dev *indio_dev, struct iio_chan_spec const *chan,
				  long mask)
{
	return IIO_VAL_INT;
}

static const struct iio_info weir_info = {
	.attrs = &weir_attr_group,
};

static const struct iio_info weir_clocked_info = {
	.attrs = &weir_clocked_attr_group,
	.read_raw = weir_read_raw,
	.write_raw = weir_write_raw,
	.write_raw_get_fmt = weir_write_raw_get_fmt,
};

#define WEIR_CHANNEL(idx, out, sgn, real, storage, sh, endian, rep, info) {	\
	.type = IIO_VOLTAGE,						\
	.indexed = 1,							\
	.channel = (idx),						\
	.output = (out),						\
	.scan_index = (idx),						\
	.info_mask_shared_by_type = (info),				\
	.scan_type = {							\
		.sign = (sgn),						\
		.realbits = (real),					\
		.storagebits = (storage),				\
		.shift = (sh),						\
		.repeat = (rep),					\
		.endianness = (endian),					\
	},								\
}

#define WEIR_S16(idx, out, info) WEIR_CHANNEL(idx, out, 's', 16, 16, 0, IIO_LE, 0, info)
#define WEIR_FREQ BIT(IIO_CHAN_INFO_SAMP_FREQ)

static const struct iio_chan_spec weir_adc_channels[] = {
	WEIR_S16(0, 0, WEIR_FREQ),
	WEIR_S16(1, 0, WEIR_FREQ),
};

static const struct iio_chan_spec weir_fifo_channels[] = {
	WEIR_S16(0, 0, 0),
	WEIR_S16(1, 0, 0),
};

static const struct iio_chan_spec weir_dac_channels[] = {
	WEIR_S16(0, 1, 0),
	WEIR_S16(1, 1, 0),
};

/* Analog Devices' AD9361-style cores: 12 bits sign-extended to 16 ('S'), four channels. */
static const struct iio_chan_spec weir_adi_channels[] = {
	WEIR_CHANNEL(0, 0, 'S', 12, 16, 0, IIO_LE, 0, WEIR_FREQ),
	WEIR_CHANNEL(1, 0, 'S', 12, 16, 0, IIO_LE, 0, WEIR_FREQ),
	WEIR_CHANNEL(2, 0, 'S', 12, 16, 0, IIO_LE, 0, WEIR_FREQ),
	WEIR_CHANNEL(3, 0, 'S', 12, 16, 0, IIO_LE, 0, WEIR_FREQ),
};

static const struct iio_chan_spec weir_mixed_channels[] = {
	WEIR_CHANNEL(0, 0, 's', 12, 16, 4, IIO_BE, 0, WEIR_FREQ),
	WEIR_CHANNEL(1, 0, 's', 24, 32, 8, IIO_LE, 0, WEIR_FREQ),
	WEIR_CHANNEL(2, 0, 's', 16, 16, 0, IIO_LE, 2, WEIR_FREQ),
};

static const struct {
	const struct iio_chan_spec *channels;
	int num_channels;
} weir_channels[] = {
	[WEIR_ADC] = { weir_adc_channels, ARRAY_SIZE(weir_adc_channels) },
	[WEIR_ADI] = { weir_adi_channels, ARRAY_SIZE(weir_adi_channels) },
	[WEIR_MIXED] = { weir_mixed_channels, ARRAY_SIZE(weir_mixed_channels) },
	[WEIR_DAC] = { weir_dac_channels, ARRAY_SIZE(weir_dac_channels) },
	[WEIR_FIFO] = { weir_fifo_channels, ARRAY_SIZE(weir_fifo_channels) },
};

static void weir_dma_buffer_free(void *data)
{
	struct weir_sim *sim = data;
	struct weir_dma_buffer *wb = container_of(sim->buffer, struct weir_dma_buffer, queue.buffer);

	iio_dma_buffer_exit(&wb->queue);
	WRITE_ONCE(sim->stopping, true);
	hrtimer_cancel(&sim->timer);
	cancel_work_sync(&sim->work);
	hrtimer_cancel(&sim->timer);
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
#ifdef IIO_BUFFER_DMABUF_ALLOC_IOCTL
	if (sim->seed_only)
		wb->queue.buffer.access = &weir_seed_only_access;
#endif
	wb->queue.buffer.direction = weir_is_input(sim) ? IIO_BUFFER_DIRECTION_IN
							: IIO_BUFFER_DIRECTION_OUT;
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
	const struct platform_device_id *id = platform_get_device_id(pdev);
	enum weir_kind kind = id->driver_data & 0xff;
	struct iio_dev *indio_dev;
	struct weir_sim *sim;
	int ret;

	indio_dev = devm_iio_device_alloc(dev, sizeof(*sim));
	if (!indio_dev)
		return -ENOMEM;
	sim = iio_priv(indio_dev);
	sim->indio_dev = indio_dev;
	sim->kind = kind;
#ifdef IIO_BUFFER_DMABUF_ALLOC_IOCTL
	sim->seed_only = id->driver_data & WEIR_SEED_ONLY;
#endif
	spin_lock_init(&sim->lock);
	INIT_LIST_HEAD(&sim->active);
	INIT_WORK(&sim->work, weir_work);
	INIT_DELAYED_WORK(&sim->fifo_work, weir_fifo_work);
	hrtimer_init(&sim->timer, CLOCK_MONOTONIC, HRTIMER_MODE_ABS_SOFT);
	sim->timer.function = weir_timer_fired;
	sim->checksum = FNV64_OFFSET;

	indio_dev->name = sim->seed_only ? id->name : weir_names[kind];
	indio_dev->info = (kind == WEIR_DAC || kind == WEIR_FIFO) ? &weir_info : &weir_clocked_info;
	indio_dev->modes = INDIO_DIRECT_MODE;
	indio_dev->channels = weir_channels[kind].channels;
	indio_dev->num_channels = weir_channels[kind].num_channels;

	if (kind == WEIR_FIFO) {
		ret = devm_iio_kfifo_buffer_setup(dev, indio_dev, &weir_fifo_setup_ops);
	} else {
		if (weir_is_input(sim))
			sim->rate = adc_rate;
		ret = weir_setup_dma_buffer(dev, sim);
	}
	if (ret)
		return dev_err_probe(dev, ret, "buffer setup\n");

	return devm_iio_device_register(dev, indio_dev);
}

static const struct platform_device_id weir_ids[] = {
	{ "weir-sim-adc", WEIR_ADC },
	{ "weir-sim-adi", WEIR_ADI },
	{ "weir-sim-mixed", WEIR_MIXED },
	{ "weir-sim-dac", WEIR_DAC },
	{ "weir-sim-fifo", WEIR_FIFO },
#ifdef IIO_BUFFER_DMABUF_ALLOC_IOCTL
	{ "weir-sim-seed", WEIR_ADC | WEIR_SEED_ONLY }, /* the ramp, the seed's interface only */
#endif
	{ }
};
MODULE_DEVICE_TABLE(platform, weir_ids);

static struct platform_driver weir_driver = {
	.driver = { .name = "weir-sim-iio" },
	.probe = weir_probe,
	.id_table = weir_ids,
};

/* One device per id (the table's last entry is its terminator). */
static struct platform_device *weir_pdevs[ARRAY_SIZE(weir_ids) - 1];

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
	for (i = 0; i < ARRAY_SIZE(weir_pdevs); i++) {
		struct platform_device_info info = {
			.name = weir_ids[i].name,
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
MODULE_DESCRIPTION("Simulated IIO ADCs/DAC (DMA buffer, optionally clocked and losing scans) and FIFO ADC for weir's kernel test bench");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(IIO_DMA_BUFFER);
