//! A watchdog device (`/dev/watchdog`, `/dev/watchdogN`) through the
//! kernel's ioctl API.
//!
//! Opening the device starts its timer. From then on the node resets
//! unless [`Watchdog::keepalive`] is called more often than the timeout,
//! or the device is closed cleanly with [`Watchdog::magic_close`] (the
//! driver then stops the timer, unless it was built or loaded with
//! `nowayout`). Dropping a [`Watchdog`] closes the file *without* the
//! magic character on purpose: a crashed or killed service must end in a
//! reset, and the kernel then logs "watchdog did not stop!".

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::libc::c_int;

use crate::ioctl;

/// Where the classic watchdog device lives.
pub const DEFAULT_DEVICE: &str = "/dev/watchdog";

/// The character that asks a driver to stop its timer on close.
pub const MAGIC_CLOSE: u8 = b'V';

bitflags::bitflags! {
    /// What a driver supports (`WDIOF_*` of `<linux/watchdog.h>`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Options: u32 {
        /// Reset due to CPU overheat.
        const OVERHEAT = 0x0001;
        /// Fan failed.
        const FANFAULT = 0x0002;
        /// External relay 1.
        const EXTERN1 = 0x0004;
        /// External relay 2.
        const EXTERN2 = 0x0008;
        /// Power bad / power fault.
        const POWERUNDER = 0x0010;
        /// Card previously reset the CPU.
        const CARDRESET = 0x0020;
        /// Power over voltage.
        const POWEROVER = 0x0040;
        /// The timeout can be set.
        const SETTIMEOUT = 0x0080;
        /// Supports the magic close character.
        const MAGICCLOSE = 0x0100;
        /// A pretimeout can be set.
        const PRETIMEOUT = 0x0200;
        /// Raises an alarm instead of resetting.
        const ALARMONLY = 0x0400;
        /// Keepalive ioctl supported.
        const KEEPALIVEPING = 0x8000;
    }
}

impl std::fmt::Display for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.iter_names().map(|(name, _)| name).collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(" "))
        }
    }
}

/// What `WDIOC_GETSUPPORT` tells about a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    /// The driver's identity, such as "Software Watchdog".
    pub identity: String,
    /// Firmware version.
    pub firmware_version: u32,
    /// Supported options.
    pub options: Options,
}

/// Why a watchdog call failed; always names the device and the call.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// There is no watchdog behind the path.
    #[error("{}: no watchdog device ({errno}); is the softdog module loaded? modprobe softdog", path.display())]
    Missing {
        /// The device path.
        path: PathBuf,
        /// What `open` said.
        errno: Errno,
    },
    /// Another program holds the device open.
    #[error("{}: device is busy: another program (a watchdog daemon?) has it open", path.display())]
    Busy {
        /// The device path.
        path: PathBuf,
    },
    /// A call on the device failed.
    #[error("{}: {call} failed: {errno}", path.display())]
    Call {
        /// The device path.
        path: PathBuf,
        /// The call, such as `WDIOC_SETTIMEOUT`.
        call: &'static str,
        /// The kernel's answer.
        errno: Errno,
    },
}

/// An open watchdog device. See the module docs for what open and close mean.
#[derive(Debug)]
pub struct Watchdog {
    file: File,
    path: PathBuf,
}

impl Watchdog {
    /// Opens (and thereby arms) the device at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DeviceError> {
        let path = path.as_ref().to_path_buf();
        // Close-on-exec: a child that inherited the descriptor would keep
        // the device open, and our magic close would then not stop it.
        let file = std::fs::OpenOptions::new().write(true).custom_flags(nix::libc::O_CLOEXEC).open(&path);
        match file {
            Ok(file) => Ok(Watchdog { file, path }),
            Err(e) => {
                let errno = Errno::from_raw(e.raw_os_error().unwrap_or(0));
                Err(match errno {
                    Errno::ENOENT | Errno::ENODEV | Errno::ENXIO => DeviceError::Missing { path, errno },
                    Errno::EBUSY => DeviceError::Busy { path },
                    _ => DeviceError::Call { path, call: "open", errno },
                })
            }
        }
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn call(&self, call: &'static str, result: nix::Result<c_int>) -> Result<(), DeviceError> {
        result.map(drop).map_err(|errno| DeviceError::Call { path: self.path.clone(), call, errno })
    }

    /// The driver's identity and options (`WDIOC_GETSUPPORT`).
    pub fn info(&self) -> Result<Info, DeviceError> {
        let mut raw = ioctl::WatchdogInfo { options: 0, firmware_version: 0, identity: [0; 32] };
        // SAFETY: the fd is open and `raw` has the kernel's 40-byte layout.
        self.call("WDIOC_GETSUPPORT", unsafe { ioctl::getsupport(self.file.as_raw_fd(), &mut raw) })?;
        let end = raw.identity.iter().position(|&b| b == 0).unwrap_or(raw.identity.len());
        Ok(Info {
            identity: String::from_utf8_lossy(&raw.identity[..end]).trim().to_string(),
            firmware_version: raw.firmware_version,
            options: Options::from_bits_retain(raw.options),
        })
    }

    /// Sets the timeout in seconds (`WDIOC_SETTIMEOUT`); returns the
    /// timeout the driver actually chose, which may differ.
    pub fn set_timeout(&self, seconds: u32) -> Result<u32, DeviceError> {
        let mut value = c_int::try_from(seconds).unwrap_or(c_int::MAX);
        // SAFETY: the fd is open and `value` is a valid int.
        self.call("WDIOC_SETTIMEOUT", unsafe { ioctl::settimeout(self.file.as_raw_fd(), &mut value) })?;
        Ok(u32::try_from(value).unwrap_or(0))
    }

    /// The current timeout in seconds (`WDIOC_GETTIMEOUT`).
    pub fn timeout(&self) -> Result<u32, DeviceError> {
        let mut value: c_int = 0;
        // SAFETY: the fd is open and `value` is a valid int.
        self.call("WDIOC_GETTIMEOUT", unsafe { ioctl::gettimeout(self.file.as_raw_fd(), &mut value) })?;
        Ok(u32::try_from(value).unwrap_or(0))
    }

    /// Seconds before the node resets (`WDIOC_GETTIMELEFT`), or `None`
    /// when the driver cannot tell.
    pub fn time_left(&self) -> Result<Option<u32>, DeviceError> {
        let mut value: c_int = 0;
        // SAFETY: the fd is open and `value` is a valid int.
        match unsafe { ioctl::gettimeleft(self.file.as_raw_fd(), &mut value) } {
            Ok(_) => Ok(Some(u32::try_from(value).unwrap_or(0))),
            Err(Errno::EOPNOTSUPP | Errno::ENOTTY | Errno::EINVAL) => Ok(None),
            Err(errno) => Err(DeviceError::Call { path: self.path.clone(), call: "WDIOC_GETTIMELEFT", errno }),
        }
    }

    /// The `WDIOF_*` status bits (`WDIOC_GETSTATUS`).
    pub fn status(&self) -> Result<Options, DeviceError> {
        let mut value: c_int = 0;
        // SAFETY: the fd is open and `value` is a valid int.
        self.call("WDIOC_GETSTATUS", unsafe { ioctl::getstatus(self.file.as_raw_fd(), &mut value) })?;
        Ok(Options::from_bits_retain(value as u32))
    }

    /// Why the node last booted, as `WDIOF_*` bits (`WDIOC_GETBOOTSTATUS`);
    /// `CARDRESET` means the watchdog reset it.
    pub fn boot_status(&self) -> Result<Options, DeviceError> {
        let mut value: c_int = 0;
        // SAFETY: the fd is open and `value` is a valid int.
        self.call("WDIOC_GETBOOTSTATUS", unsafe { ioctl::getbootstatus(self.file.as_raw_fd(), &mut value) })?;
        Ok(Options::from_bits_retain(value as u32))
    }

    /// Resets the timer (`WDIOC_KEEPALIVE`): "pets" the watchdog.
    pub fn keepalive(&self) -> Result<(), DeviceError> {
        let mut dummy: c_int = 0;
        // SAFETY: the fd is open and `dummy` is a valid int.
        self.call("WDIOC_KEEPALIVE", unsafe { ioctl::keepalive(self.file.as_raw_fd(), &mut dummy) })
    }

    /// Stops the timer while the device stays open (`WDIOC_SETOPTIONS`
    /// with `WDIOS_DISABLECARD`); refused by drivers with `nowayout`.
    pub fn disable(&self) -> Result<(), DeviceError> {
        let mut value = ioctl::WDIOS_DISABLECARD;
        // SAFETY: the fd is open and `value` is a valid int.
        self.call("WDIOC_SETOPTIONS(WDIOS_DISABLECARD)", unsafe {
            ioctl::setoptions(self.file.as_raw_fd(), &mut value)
        })
    }

    /// Starts the timer again after [`Watchdog::disable`].
    pub fn enable(&self) -> Result<(), DeviceError> {
        let mut value = ioctl::WDIOS_ENABLECARD;
        // SAFETY: the fd is open and `value` is a valid int.
        self.call("WDIOC_SETOPTIONS(WDIOS_ENABLECARD)", unsafe { ioctl::setoptions(self.file.as_raw_fd(), &mut value) })
    }

    /// Whether the driver refuses to stop on close (from sysfs); `None`
    /// when the kernel does not say.
    pub fn nowayout(&self) -> Option<bool> {
        nowayout(&self.path)
    }

    /// Writes the magic character and closes: the driver stops its timer
    /// (unless `nowayout` is set, see [`Watchdog::nowayout`]).
    pub fn magic_close(mut self) -> Result<(), DeviceError> {
        self.file.write_all(&[MAGIC_CLOSE]).map_err(|e| DeviceError::Call {
            path: self.path.clone(),
            call: "write of the magic character",
            errno: Errno::from_raw(e.raw_os_error().unwrap_or(0)),
        })
        // Dropping `self` closes the file.
    }
}

/// The sysfs directory (`/sys/class/watchdog/watchdogN`) of a device node.
pub fn sysfs_dir(device: &Path) -> Option<PathBuf> {
    let rdev = std::fs::metadata(device).ok()?.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev), nix::sys::stat::minor(rdev));
    let class = Path::new("/sys/class/watchdog");
    // The legacy misc device 10:130 is always the first watchdog.
    if (major, minor) == (10, 130) {
        let dir = class.join("watchdog0");
        return dir.exists().then_some(dir);
    }
    let wanted = format!("{major}:{minor}");
    std::fs::read_dir(class)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|dir| std::fs::read_to_string(dir.join("dev")).map(|s| s.trim() == wanted).unwrap_or(false))
}

/// Whether the driver behind `device` has `nowayout` set (it then keeps
/// counting after a magic close); `None` when sysfs does not tell.
pub fn nowayout(device: &Path) -> Option<bool> {
    let text = std::fs::read_to_string(sysfs_dir(device)?.join("nowayout")).ok()?;
    Some(text.trim() != "0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_device_says_to_load_softdog() {
        let err = Watchdog::open("/nonexistent/watchdog").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("/nonexistent/watchdog: no watchdog device"), "{text}");
        assert!(text.contains("modprobe softdog"), "{text}");
    }

    #[test]
    fn calls_on_a_file_that_is_no_watchdog_name_the_call_and_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("not-a-watchdog");
        std::fs::write(&path, b"").unwrap();
        let dog = Watchdog::open(&path).unwrap();
        let text = dog.set_timeout(5).unwrap_err().to_string();
        assert!(text.contains("not-a-watchdog: WDIOC_SETTIMEOUT failed: ENOTTY"), "{text}");
        let text = dog.keepalive().unwrap_err().to_string();
        assert!(text.contains("WDIOC_KEEPALIVE failed"), "{text}");
        // Time left is optional: "cannot tell" rather than an error.
        assert_eq!(dog.time_left().unwrap(), None);
        assert_eq!(dog.nowayout(), None, "a plain file has no sysfs entry");
        dog.magic_close().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"V", "magic close writes the magic character");
    }

    #[test]
    fn options_print_their_kernel_names() {
        let options = Options::SETTIMEOUT | Options::MAGICCLOSE | Options::KEEPALIVEPING;
        assert_eq!(options.to_string(), "SETTIMEOUT MAGICCLOSE KEEPALIVEPING");
        assert_eq!(Options::empty().to_string(), "none");
    }
}
