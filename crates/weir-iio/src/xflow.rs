//! Overflow (RX) and underflow (TX) as Analog Devices' HDL cores latch them: exact evidence of
//! lost samples, where the hardware keeps it.
//!
//! Mainline IIO counts no overruns, but the ADC and DAC cores of Analog Devices' HDL (the
//! `cf_axi_adc` / `cf_axi_dds` drivers: AD9361, AD9680, ADRV9009 …) latch a bit in their DMA
//! status register whenever data is lost between the converter and the DMA. User space reads
//! and clears it through the IIO debugfs file `direct_reg_access`
//! (`/sys/kernel/debug/iio/iio:deviceX/direct_reg_access`): writing an address selects a
//! register, reading the file then returns its value as `0x…`; writing `address value` writes
//! it. This is what libiio's `iio_adi_xflow_check` and gr-iio's FMCOMMS2 blocks do.
//!
//! The register and the bits come from their public source:
//! - libiio, `examples/iio_adi_xflow_check.c`: reads register `0x80000088`; a TX device has
//!   underflowed when bit 0 (`val & 1`) is set, an RX device has overflowed when bit 2
//!   (`val & 4`) is; the bits are cleared by writing the value read back to the register
//!   (write-one-to-clear), and `0x6` is written once before monitoring starts.
//! - gnuradio, `gr-iio/lib/fmcomms2_source_impl.cc` (`check_overflow`: `status & 4`) and
//!   `gr-iio/lib/fmcomms2_sink_impl.cc` (`check_underflow`: `status & 1`), same register.
//! - libiio, `local.c` (`local_reg_read` / `local_reg_write`): the debugfs path
//!   `/sys/kernel/debug/iio/<id>/direct_reg_access`, the address written as `0x%x`, the value
//!   read back and parsed as `0x%x`, a write as `0x%x 0x%x`, each under an exclusive `flock`
//!   so that two processes do not interleave address and read.
//!
//! Address bit 31 is the HDL drivers' `DEBUGFS_DRA_PCORE_REG_MAGIC`: it selects the FPGA
//! core's own register space (`reg & 0xFFFF`, here the core's DMA status at `0x88`) instead of
//! the converter chip behind it. Another driver gives that address another meaning — it
//! could be a register of some SPI chip — so a [`XflowMonitor`] is only opened for a device
//! whose device-tree node names an Analog Devices AXI core ([`is_adi_hdl_core`]).
//!
//! When the file is absent (debugfs not mounted, a kernel without `CONFIG_DEBUG_FS`), not
//! readable (not root, kernel lockdown) or the device is not such a core, opening returns
//! `None`: the caller falls back to the other evidence of loss, silently.
//!
//! # Use
//!
//! ```no_run
//! use weir_iio::xflow::XflowMonitor;
//! use weir_iio::{Direction, Sysfs};
//!
//! # fn main() -> weir_iio::Result<()> {
//! let device = Sysfs::default().find("cf-ad9361-lpc")?;
//! // `None`: no hardware status on this device; count loss some other way.
//! let mut xflow = XflowMonitor::open(&device, Direction::In);
//! // ... start the buffer, then forget what latched while the DMA was not running:
//! if let Some(x) = xflow.as_mut() {
//!     x.clear()?;
//! }
//! // After each completed block:
//! if let Some(x) = xflow.as_mut()
//!     && x.check()?.lost()
//! {
//!     println!("samples lost before this block ({} times so far)", x.events());
//! }
//! # Ok(())
//! # }
//! ```

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use rustix::fs::{FlockOperation, flock};

use crate::error::{Error, Result, errno_of};
use crate::sysfs::Device;
use crate::vocabulary::Direction;

/// Where the kernel puts the IIO devices' debugfs directories.
pub const DEFAULT_DEBUGFS_ROOT: &str = "/sys/kernel/debug/iio";

/// The HDL core's DMA status register, with the drivers' core-register flag (bit 31); from
/// libiio `examples/iio_adi_xflow_check.c` and gr-iio `fmcomms2_source_impl.cc`.
pub const STATUS_REGISTER: u32 = 0x8000_0088;

/// The bit an ADC (RX) core latches on overflow (`val & 4` in libiio and gr-iio).
pub const RX_OVERFLOW: u32 = 1 << 2;

/// The bit a DAC (TX) core latches on underflow (`val & 1` in libiio and gr-iio).
pub const TX_UNDERFLOW: u32 = 1 << 0;

/// Device-tree `compatible` prefixes of the AXI ADC/DAC cores whose drivers give address bit
/// 31 the core-register meaning (Analog Devices' `cf_axi_adc` match table lists
/// `adi,axi-ad9361-6.00.a`, `adi,axi-ad9680-1.0`, `xlnx,axi-ad9250-1.00.a`,
/// `xlnx,cf-ad9467-core-1.00.a` …).
const ADI_CORE_COMPATIBLES: [&str; 3] = ["adi,axi-", "xlnx,axi-ad", "xlnx,cf-ad"];

/// Register reads and writes of one device, as its debugfs `direct_reg_access` offers them.
///
/// [`DebugfsRegisters`] is the real one; a fake (such as
/// `testing::FakeRegisters`, feature `testing`) plays a core's latching status
/// register in tests, which a plain file cannot.
pub trait RegisterAccess: Send {
    /// Reads the register at `address`.
    fn read(&mut self, address: u32) -> Result<u32>;
    /// Writes `value` to the register at `address`.
    fn write(&mut self, address: u32, value: u32) -> Result<()>;
}

/// A device's debugfs `direct_reg_access` file, kept open between accesses.
#[derive(Debug)]
pub struct DebugfsRegisters {
    file: File,
    path: PathBuf,
}

impl DebugfsRegisters {
    /// `<debugfs_root>/<device_id>/direct_reg_access`.
    pub fn path(debugfs_root: &Path, device_id: &str) -> PathBuf {
        debugfs_root.join(device_id).join("direct_reg_access")
    }

    /// Opens the file at `path` for reading and writing. [`Error::File`] with the errno
    /// (`ENOENT`: no debugfs or no such device; `EACCES`/`EPERM`: not allowed).
    pub fn open(path: impl Into<PathBuf>) -> Result<DebugfsRegisters> {
        let path = path.into();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_error("open", &path, &e))?;
        Ok(DebugfsRegisters { file, path })
    }

    /// The file.
    pub fn file_path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` holding an exclusive lock on the file, as libiio does, so that another
    /// process's address write cannot come between ours and the read.
    fn locked<T>(&self, f: impl FnOnce(&File) -> Result<T>) -> Result<T> {
        flock(&self.file, FlockOperation::LockExclusive).map_err(|e| Error::File {
            op: "lock",
            path: self.path.clone(),
            errno: e,
            detail: String::new(),
        })?;
        let result = f(&self.file);
        // Closing would release the lock too; the file stays open, so release it now.
        let _ = flock(&self.file, FlockOperation::Unlock);
        result
    }

    /// Writes `text` in one write at offset 0 (the kernel parses each write on its own).
    fn put(&self, file: &File, text: &str) -> Result<()> {
        let written = file
            .write_at(text.as_bytes(), 0)
            .map_err(|e| io_error("write", &self.path, &e))?;
        if written != text.len() {
            return Err(Error::File {
                op: "write",
                path: self.path.clone(),
                errno: rustix::io::Errno::IO,
                detail: format!("short write of {text:?}"),
            });
        }
        Ok(())
    }
}

fn io_error(op: &'static str, path: &Path, e: &std::io::Error) -> Error {
    Error::File {
        op,
        path: path.to_path_buf(),
        errno: errno_of(e),
        detail: String::new(),
    }
}

/// Parses a register value as the kernel prints it (`0x%X\n`).
fn parse_register(text: &str) -> Option<u32> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    u32::from_str_radix(hex, 16).ok()
}

impl RegisterAccess for DebugfsRegisters {
    fn read(&mut self, address: u32) -> Result<u32> {
        let text = self.locked(|file| {
            self.put(file, &format!("0x{address:x}"))?;
            // Reading at offset 0 makes the kernel read the register afresh; it answers with
            // the whole value in one read.
            let mut buf = [0u8; 64];
            let n = file
                .read_at(&mut buf, 0)
                .map_err(|e| io_error("read", &self.path, &e))?;
            Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
        })?;
        parse_register(&text).ok_or_else(|| Error::Parse {
            path: self.path.clone(),
            text: text.trim_end().to_string(),
            expected: "a register value `0x…`",
        })
    }

    fn write(&mut self, address: u32, value: u32) -> Result<()> {
        self.locked(|file| self.put(file, &format!("0x{address:x} 0x{value:x}")))
    }
}

/// Whether `device` is an Analog Devices AXI ADC/DAC core, by the `compatible` of its
/// device-tree node (`of_node/compatible` of the IIO device, else of its parent device):
/// the only devices for which [`STATUS_REGISTER`] means the core's DMA status.
pub fn is_adi_hdl_core(device: &Device) -> bool {
    let mut nodes = vec![device.path.join("of_node")];
    if let Some(parent) = std::fs::canonicalize(&device.path)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
    {
        nodes.push(parent.join("of_node"));
    }
    nodes.iter().any(|node| {
        std::fs::read(node.join("compatible")).is_ok_and(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter_map(|c| std::str::from_utf8(c).ok())
                .any(|c| ADI_CORE_COMPATIBLES.iter().any(|p| c.starts_with(p)))
        })
    })
}

/// What one [`XflowMonitor::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XflowStatus {
    /// The status register as read, before it was cleared.
    pub register: u32,
    /// An RX core overflowed since the previous check: samples were lost.
    pub overflow: bool,
    /// A TX core underflowed since the previous check: the DAC ran out of samples.
    pub underflow: bool,
}

impl XflowStatus {
    /// Whether the monitored direction lost samples since the previous check.
    pub fn lost(&self) -> bool {
        self.overflow || self.underflow
    }
}

/// Watches one device's latched overflow (RX) or underflow (TX) status; see the
/// [module documentation](self).
pub struct XflowMonitor {
    registers: Box<dyn RegisterAccess>,
    device: String,
    direction: Direction,
    events: u64,
}

impl std::fmt::Debug for XflowMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XflowMonitor")
            .field("device", &self.device)
            .field("direction", &self.direction)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl XflowMonitor {
    /// The monitor of `device` streaming in `direction`, through
    /// `/sys/kernel/debug/iio/<id>/direct_reg_access`; `None` when there is no hardware
    /// status to read (see [`open_in`](Self::open_in)).
    pub fn open(device: &Device, direction: Direction) -> Option<XflowMonitor> {
        XflowMonitor::open_in(Path::new(DEFAULT_DEBUGFS_ROOT), device, direction)
    }

    /// Like [`open`](Self::open) with the debugfs IIO directory at `debugfs_root`. `None`,
    /// logged at debug level only, when the device is not an Analog Devices AXI core
    /// ([`is_adi_hdl_core`]), or its `direct_reg_access` file is absent, cannot be opened for
    /// reading and writing, or the status register cannot be read.
    pub fn open_in(
        debugfs_root: &Path,
        device: &Device,
        direction: Direction,
    ) -> Option<XflowMonitor> {
        if !is_adi_hdl_core(device) {
            tracing::debug!(device = %device.id, "no HDL status register: not an Analog Devices AXI core");
            return None;
        }
        let path = DebugfsRegisters::path(debugfs_root, &device.id);
        let opened = DebugfsRegisters::open(&path).and_then(|registers| {
            XflowMonitor::with_registers(Box::new(registers), device.display_name(), direction)
        });
        match opened {
            Ok(monitor) => Some(monitor),
            Err(e) => {
                tracing::debug!(device = %device.id, "no HDL status register: {e}");
                None
            }
        }
    }

    /// A monitor over `registers` (a fake in tests); `device` names it in messages. Reads the
    /// status register once, so that an unreadable one fails here rather than at the first
    /// check, and clears whatever latched before.
    pub fn with_registers(
        registers: Box<dyn RegisterAccess>,
        device: impl Into<String>,
        direction: Direction,
    ) -> Result<XflowMonitor> {
        let mut monitor = XflowMonitor {
            registers,
            device: device.into(),
            direction,
            events: 0,
        };
        monitor.clear()?;
        Ok(monitor)
    }

    /// Forgets what latched so far: reads the register and clears the bits that are set.
    /// Call it right after the buffer is enabled: a core latches while its DMA is not yet
    /// running, which is not a loss of the stream (libiio clears once after starting too).
    pub fn clear(&mut self) -> Result<()> {
        let value = self.registers.read(STATUS_REGISTER)?;
        if value != 0 {
            self.registers.write(STATUS_REGISTER, value)?;
        }
        Ok(())
    }

    /// Reads the status register, tells whether the monitored direction lost samples since the
    /// previous check (or [`clear`](Self::clear)), and clears the latched bits by writing them
    /// back (write-one-to-clear), as libiio does. Call it after each completed block to place
    /// a loss between two blocks: the bit says *that* samples were lost, not how many.
    pub fn check(&mut self) -> Result<XflowStatus> {
        let register = self.registers.read(STATUS_REGISTER)?;
        if register != 0 {
            self.registers.write(STATUS_REGISTER, register)?;
        }
        let status = XflowStatus {
            register,
            overflow: self.direction == Direction::In && register & RX_OVERFLOW != 0,
            underflow: self.direction == Direction::Out && register & TX_UNDERFLOW != 0,
        };
        if status.lost() {
            self.events += 1;
        }
        Ok(status)
    }

    /// How many checks found a loss latched.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The direction monitored.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The device name used in messages.
    pub fn device(&self) -> &str {
        &self.device
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysfs::Sysfs;
    use crate::testing::{FakeRegisters, FakeSysfs};

    #[test]
    fn rx_overflow_is_reported_once_and_cleared() {
        let regs = FakeRegisters::new();
        // Latched before monitoring started: not a loss of the stream.
        regs.latch(STATUS_REGISTER, RX_OVERFLOW);
        let mut m =
            XflowMonitor::with_registers(Box::new(regs.clone()), "rx", Direction::In).unwrap();
        assert_eq!(regs.value(STATUS_REGISTER), 0, "cleared when opened");
        let s = m.check().unwrap();
        assert!(!s.lost());
        assert_eq!(s.register, 0);

        regs.latch(STATUS_REGISTER, RX_OVERFLOW);
        let s = m.check().unwrap();
        assert_eq!(
            s,
            XflowStatus {
                register: RX_OVERFLOW,
                overflow: true,
                underflow: false
            }
        );
        assert_eq!(m.events(), 1);
        // Cleared by writing the value read back, as libiio does.
        assert_eq!(regs.writes().last(), Some(&(STATUS_REGISTER, RX_OVERFLOW)));
        assert!(!m.check().unwrap().lost());
        assert_eq!(m.events(), 1);
    }

    #[test]
    fn each_direction_watches_its_own_bit() {
        let regs = FakeRegisters::new();
        let mut rx =
            XflowMonitor::with_registers(Box::new(regs.clone()), "rx", Direction::In).unwrap();
        regs.latch(STATUS_REGISTER, TX_UNDERFLOW | 1 << 1);
        let s = rx.check().unwrap();
        assert!(!s.lost(), "{s:?}");
        // Every set bit was cleared all the same.
        assert_eq!(regs.value(STATUS_REGISTER), 0);

        let mut tx =
            XflowMonitor::with_registers(Box::new(regs.clone()), "tx", Direction::Out).unwrap();
        regs.latch(STATUS_REGISTER, RX_OVERFLOW);
        assert!(!tx.check().unwrap().lost());
        regs.latch(STATUS_REGISTER, TX_UNDERFLOW);
        let s = tx.check().unwrap();
        assert!(s.underflow && !s.overflow);
        assert_eq!(tx.events(), 1);
        assert_eq!(tx.direction(), Direction::Out);
    }

    #[test]
    fn clear_forgets_what_latched_before_start() {
        let regs = FakeRegisters::new();
        let mut m =
            XflowMonitor::with_registers(Box::new(regs.clone()), "rx", Direction::In).unwrap();
        regs.latch(STATUS_REGISTER, RX_OVERFLOW);
        m.clear().unwrap();
        assert!(!m.check().unwrap().lost());
        assert_eq!(m.events(), 0);
    }

    #[test]
    fn an_unreadable_register_refuses_to_open_and_a_failed_check_is_an_error() {
        let regs = FakeRegisters::new();
        regs.fail_reads(true);
        assert!(XflowMonitor::with_registers(Box::new(regs.clone()), "rx", Direction::In).is_err());
        regs.fail_reads(false);
        let mut m =
            XflowMonitor::with_registers(Box::new(regs.clone()), "rx", Direction::In).unwrap();
        regs.fail_reads(true);
        assert!(m.check().is_err());
    }

    fn core(fake: &FakeSysfs, compatible: Option<&str>) -> Device {
        let d = fake.device(0).name("cf-ad9361-lpc");
        if let Some(c) = compatible {
            d.of_compatible(c);
        }
        Sysfs::new(fake.root()).load("iio:device0").unwrap()
    }

    #[test]
    fn only_analog_devices_axi_cores_are_monitored() {
        let fake = FakeSysfs::new();
        assert!(!is_adi_hdl_core(&core(&fake, None)));
        let fake = FakeSysfs::new();
        assert!(!is_adi_hdl_core(&core(&fake, Some("adi,ad9467"))));
        let fake = FakeSysfs::new();
        let dev = core(&fake, Some("adi,axi-ad9361-6.00.a"));
        assert!(is_adi_hdl_core(&dev));
        // The `of_node` directory is not a device attribute.
        assert!(!dev.attributes.iter().any(|a| a.contains("of_node")));
    }

    #[test]
    fn opening_falls_back_to_none_when_there_is_nothing_to_read() {
        let fake = FakeSysfs::new();
        let debugfs = fake.base().join("debug-iio");
        // Not an AXI core: never touched, even if the file exists.
        let plain = core(&fake, None);
        std::fs::create_dir_all(debugfs.join("iio:device0")).unwrap();
        let file = DebugfsRegisters::path(&debugfs, "iio:device0");
        std::fs::write(&file, "0x0\n").unwrap();
        assert!(XflowMonitor::open_in(&debugfs, &plain, Direction::In).is_none());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "0x0\n");

        // An AXI core without the debugfs file.
        let fake = FakeSysfs::new();
        let dev = core(&fake, Some("adi,axi-ad9361-6.00.a"));
        let debugfs = fake.base().join("debug-iio");
        assert!(XflowMonitor::open_in(&debugfs, &dev, Direction::In).is_none());
        // One that cannot be opened for reading and writing (a directory in its place).
        std::fs::create_dir_all(DebugfsRegisters::path(&debugfs, "iio:device0")).unwrap();
        assert!(XflowMonitor::open_in(&debugfs, &dev, Direction::In).is_none());
    }

    #[test]
    fn debugfs_file_protocol() {
        // A plain file shows what is written: the address alone to select a register before
        // reading it, `address value` to write. It reads back what was written last, so a
        // read returns the address it selected.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("direct_reg_access");
        std::fs::write(&path, "").unwrap();
        let mut regs = DebugfsRegisters::open(&path).unwrap();
        assert_eq!(regs.file_path(), path);
        regs.write(STATUS_REGISTER, 0x6).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0x80000088 0x6");
        std::fs::write(&path, "").unwrap();
        assert_eq!(regs.read(STATUS_REGISTER).unwrap(), STATUS_REGISTER);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0x80000088");

        assert_eq!(parse_register("0x4\n"), Some(4));
        assert_eq!(parse_register("0X80000088"), Some(0x8000_0088));
        assert_eq!(parse_register("4"), None);
        assert_eq!(parse_register("0xZZ"), None);
        // What follows the value must not be taken for part of it.
        std::fs::write(&path, "0x00000000zz").unwrap();
        let e = regs.read(STATUS_REGISTER).unwrap_err();
        assert!(
            matches!(&e, Error::Parse { path: p, text, .. } if *p == path && text == "0x80000088zz"),
            "{e:?}"
        );
        let e = DebugfsRegisters::open(dir.path().join("absent")).unwrap_err();
        assert_eq!(e.errno(), Some(rustix::io::Errno::NOENT));
    }
}
