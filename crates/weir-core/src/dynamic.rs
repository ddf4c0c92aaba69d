//! Plugins built as shared libraries, loaded at run time from the directories in
//! `WEIR_PLUGIN_PATH`.
//!
//! Rust has no stable ABI: a plugin's blocks are Rust types built onto weir's FutureSDR
//! flowgraph and connected to weir's own blocks by downcasting (`Any`), so a plugin is only
//! usable when it was compiled by the same compiler against the very same build of weir-core and
//! FutureSDR. A plugin therefore exports a [`PluginDeclaration`] whose first fields have a C
//! layout and are checked before any Rust type crosses the boundary:
//!
//! 1. a magic number and the declaration's layout version;
//! 2. the weir version the plugin was built against;
//! 3. the `rustc -V` of the compiler that built it;
//! 4. the *interface hash*: a hash of the files that define the plugin interface (weir-core's
//!    sources and manifest and the workspace's `Cargo.lock`, made by weir-core's build script).
//!    A `TypeId` does not change when a struct's fields do, so without it a plugin built from an
//!    older checkout of the same version could pass and then misread every shared type;
//! 5. a *build identity*: a hash of the `TypeId`s the boundary depends on (weir-core's registry
//!    and buffer types, FutureSDR's flowgraph and stream types) and of the interface hash. Same
//!    sources with different features or profile give different type ids; such a plugin would
//!    fail at the first connection, so it is refused up front.
//!
//! Before any of that, the declaration symbol itself is checked: not NULL (a symbol can be
//! defined with the value 0), and, where the dynamic loader can tell (glibc's `dladdr1`), of
//! the size of a declaration. Before a library is even opened — which runs its initialisers —
//! its place is checked: `WEIR_PLUGIN_PATH` entries must be absolute (a relative one would load
//! whatever library is in the current directory), and neither the directory nor the file may
//! be writable by anyone but its owner (and root): whoever can write there can run code in
//! weir.
//!
//! A plugin that fails any check is listed with the reason and skipped; the others still load.
//! Loaded libraries stay mapped for the life of the process: the blocks they define may be
//! running, and their code lives in the library (GNU Radio never unloads its plugins either).
//!
//! This is the one place in weir outside weir-iio's kernel interface that needs `unsafe`:
//! loading a library runs its initialisers and reading its declaration trusts its symbol.

#![allow(unsafe_code)]

use std::any::TypeId;
use std::ffi::OsStr;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futuresdr::runtime::Flowgraph;
use futuresdr::runtime::dev::{DefaultCpuReader, DefaultCpuWriter};

use crate::buffer::{MappedBlockReader, MappedBlockWriter};
use crate::fill_buffer::{FillBlockReader, FillBlockWriter};
use crate::item::{Cf32, Ci16};
use crate::registry::{BlockDescriptor, Registry};

/// The weir version this weir-core was built as (plugins record theirs).
pub const WEIR_VERSION: &str = env!("CARGO_PKG_VERSION");
/// `rustc -V` of the compiler that built this weir-core (set by its build script).
pub const RUSTC_VERSION: &str = env!("WEIR_RUSTC_VERSION");
/// The symbol a plugin library exports its [`PluginDeclaration`] under.
pub const DECLARATION_SYMBOL: &str = "WEIR_PLUGIN_DECLARATION";
/// Identifies a weir plugin declaration ("weirplug").
pub const MAGIC: u64 = u64::from_be_bytes(*b"weirplug");
/// Layout version of [`PluginDeclaration`]; raised whenever its fields change.
pub const LAYOUT: u32 = 2;
/// Hash of the files that define the plugin interface (weir-core's sources, manifest and the
/// workspace's `Cargo.lock`), as 16 hex digits; set by weir-core's build script.
pub const INTERFACE_HASH: &str = env!("WEIR_INTERFACE_HASH");

/// A string in a C-layout declaration: pointer and length of UTF-8 bytes.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawStr {
    ptr: *const u8,
    len: usize,
}

impl RawStr {
    /// Wrap a static string.
    pub const fn new(s: &'static str) -> Self {
        Self {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }

    fn to_string_lossy(self) -> String {
        // SAFETY: a RawStr is only made by `RawStr::new` from a `&'static str` of the library
        // that exported it, and that library stays loaded for the life of the process.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// What a plugin library exports under [`DECLARATION_SYMBOL`]; made by [`export_plugin!`](crate::export_plugin).
///
/// `repr(C)` so the checks can read it whatever compiler built the plugin. `register` and
/// `name` use the Rust ABI and are only called once compiler and build identity match.
#[repr(C)]
pub struct PluginDeclaration {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`LAYOUT`].
    pub layout: u32,
    /// [`WEIR_VERSION`] as the plugin saw it.
    pub weir_version: RawStr,
    /// [`RUSTC_VERSION`] as the plugin saw it.
    pub rustc_version: RawStr,
    /// [`INTERFACE_HASH`] as the plugin saw it.
    pub interface_hash: RawStr,
    /// [`build_identity`] computed by the plugin's copy of weir-core.
    pub build_identity: extern "C" fn() -> u64,
    /// The plugin's name.
    pub name: fn() -> &'static str,
    /// Registers the plugin's block types.
    pub register: fn(&mut Registry),
}

// SAFETY: the declaration is immutable static data: pointers to static strings and function
// pointers, all valid from any thread.
unsafe impl Sync for PluginDeclaration {}

/// A hash of the `TypeId`s a plugin's blocks share with weir: equal in host and plugin exactly
/// when both were built from the same weir-core and FutureSDR with the same compiler, features
/// and dependency versions.
pub extern "C" fn build_identity() -> u64 {
    // DefaultHasher::new() has fixed keys, so the hash is reproducible for one compiler, which
    // is checked before this is compared.
    let mut h = std::hash::DefaultHasher::new();
    for id in [
        TypeId::of::<Registry>(),
        TypeId::of::<BlockDescriptor>(),
        TypeId::of::<Flowgraph>(),
        TypeId::of::<DefaultCpuReader<Cf32>>(),
        TypeId::of::<DefaultCpuWriter<Cf32>>(),
        TypeId::of::<MappedBlockReader<Ci16>>(),
        TypeId::of::<MappedBlockWriter<Ci16>>(),
        TypeId::of::<FillBlockReader<Ci16>>(),
        TypeId::of::<FillBlockWriter<Cf32>>(),
    ] {
        id.hash(&mut h);
    }
    INTERFACE_HASH.hash(&mut h);
    h.finish()
}

/// Export a [`Plugin`](crate::Plugin) value from a `cdylib` crate so `WEIR_PLUGIN_PATH` can load
/// it:
///
/// ```ignore
/// struct MyPlugin;
/// impl weir_core::Plugin for MyPlugin { /* name, register */ }
/// weir_core::export_plugin!(MyPlugin);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:expr) => {
        #[unsafe(no_mangle)]
        #[used]
        static WEIR_PLUGIN_DECLARATION: $crate::dynamic::PluginDeclaration =
            $crate::dynamic::PluginDeclaration {
                magic: $crate::dynamic::MAGIC,
                layout: $crate::dynamic::LAYOUT,
                weir_version: $crate::dynamic::RawStr::new($crate::dynamic::WEIR_VERSION),
                rustc_version: $crate::dynamic::RawStr::new($crate::dynamic::RUSTC_VERSION),
                interface_hash: $crate::dynamic::RawStr::new($crate::dynamic::INTERFACE_HASH),
                build_identity: $crate::dynamic::build_identity,
                name: || $crate::Plugin::name(&$plugin),
                register: |registry| $crate::Plugin::register(&$plugin, registry),
            };
    };
}

/// Why a plugin library was not loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The directory in `WEIR_PLUGIN_PATH` could not be read.
    #[error("cannot read plugin directory: {0}")]
    Directory(String),
    /// The dynamic loader refused the file.
    #[error("cannot load library: {0}")]
    Open(String),
    /// The library exports no weir plugin declaration.
    #[error("not a weir plugin (no `{DECLARATION_SYMBOL}` symbol)")]
    NotAPlugin,
    /// A `WEIR_PLUGIN_PATH` entry that is not an absolute path.
    #[error(
        "not an absolute path: refused (a relative entry loads whatever library is in the current directory)"
    )]
    RelativePath,
    /// A plugin directory or library that others than its owner (and root) may write.
    #[error(
        "mode {mode:04o} lets {who} write it: refused (whoever can write a plugin can run code in weir); `chmod go-w` it"
    )]
    Writable {
        /// The permission bits.
        mode: u32,
        /// `group`, `others` or `group and others`.
        who: &'static str,
    },
    /// The declaration symbol is NULL.
    #[error("`{DECLARATION_SYMBOL}` is NULL: not a weir plugin")]
    NullDeclaration,
    /// The declaration symbol is not the size of a declaration.
    #[error(
        "`{DECLARATION_SYMBOL}` is {found} bytes, a declaration of layout {LAYOUT} is {expected}: not a weir plugin of this layout"
    )]
    DeclarationSize {
        /// The symbol's size.
        found: usize,
        /// A declaration's.
        expected: usize,
    },
    /// Built from other sources or another `Cargo.lock` than this weir.
    #[error(
        "built from other weir-core sources or another Cargo.lock (interface hash {plugin}, this weir's is {host}): a stale plugin; rebuild it against this weir"
    )]
    Interface {
        /// The plugin's interface hash.
        plugin: String,
        /// This weir's.
        host: String,
    },
    /// The declaration is of another layout version.
    #[error("plugin declaration layout {found}, this weir reads layout {expected}")]
    Layout {
        /// The plugin's layout version.
        found: u32,
        /// This weir's.
        expected: u32,
    },
    /// Built against another weir version.
    #[error(
        "built against weir {plugin}, this is weir {host}: rebuild the plugin against weir {host}"
    )]
    WeirVersion {
        /// The plugin's weir version.
        plugin: String,
        /// This weir's version.
        host: String,
    },
    /// Built by another compiler.
    #[error(
        "built with {plugin}, this weir was built with {host}: Rust has no stable ABI, rebuild the plugin with {host}"
    )]
    Compiler {
        /// The plugin's compiler.
        plugin: String,
        /// This weir's compiler.
        host: String,
    },
    /// Same version and compiler, but another build of weir-core/FutureSDR.
    #[error(
        "built against another build of weir {0} (same version and compiler, but different features, dependency versions or profile): build it in the same cargo workspace, profile and Cargo.lock as the weir that loads it"
    )]
    Build(String),
    /// A block type the plugin registers already exists.
    #[error("block type `{0}` is already registered; a plugin may not replace a block type")]
    Duplicate(String),
}

/// A plugin that was loaded.
#[derive(Debug, Clone)]
pub struct LoadedPlugin {
    /// The library file.
    pub path: PathBuf,
    /// The plugin's name.
    pub name: String,
    /// The block types it added.
    pub blocks: Vec<&'static str>,
}

/// A plugin library that was refused, and why.
#[derive(Debug, Clone)]
pub struct FailedPlugin {
    /// The library file (or directory).
    pub path: PathBuf,
    /// Why.
    pub error: PluginError,
}

impl fmt::Display for FailedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.error)
    }
}

/// The outcome of loading the plugins of a search path.
#[derive(Debug, Clone, Default)]
pub struct PluginLoad {
    /// Loaded plugins, in load order.
    pub loaded: Vec<LoadedPlugin>,
    /// Refused libraries; the others were loaded regardless.
    pub failed: Vec<FailedPlugin>,
}

/// Libraries whose plugins were registered. Never unloaded: their code may be running.
static LIBRARIES: Mutex<Vec<libloading::Library>> = Mutex::new(Vec::new());

impl Registry {
    /// Load every plugin library (`*.so` on Linux) in the directories of a `PATH`-style list
    /// (`WEIR_PLUGIN_PATH`'s value), in directory order and by file name within one. Libraries
    /// that fail are listed in the result; the rest are loaded.
    ///
    /// Only absolute entries are read, and neither a directory nor a library that others than
    /// its owner (and root) may write (see the [module documentation](self)).
    pub fn load_plugin_path(&mut self, path: &OsStr) -> PluginLoad {
        let mut load = PluginLoad::default();
        for dir in std::env::split_paths(path).filter(|d| !d.as_os_str().is_empty()) {
            if let Err(error) = check_place(&dir, true) {
                load.failed.push(FailedPlugin { path: dir, error });
                continue;
            }
            let entries = match std::fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) => {
                    load.failed.push(FailedPlugin {
                        path: dir,
                        error: PluginError::Directory(e.to_string()),
                    });
                    continue;
                }
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name()
                            .and_then(OsStr::to_str)
                            .is_some_and(|n| n.ends_with(std::env::consts::DLL_SUFFIX))
                })
                .collect();
            files.sort();
            for file in files {
                if let Err(error) = check_place(&file, false) {
                    load.failed.push(FailedPlugin { path: file, error });
                    continue;
                }
                match self.load_plugin(&file) {
                    Ok(p) => load.loaded.push(p),
                    Err(error) => load.failed.push(FailedPlugin { path: file, error }),
                }
            }
        }
        load
    }

    /// Load one plugin library and register its blocks, after checking it was built against
    /// this weir by this compiler. On error nothing is registered.
    pub fn load_plugin(&mut self, file: &Path) -> Result<LoadedPlugin, PluginError> {
        // SAFETY: loading a library runs its initialisers. That is the point of a plugin path:
        // the user put the library there to be loaded into weir.
        let library = unsafe { libloading::Library::new(file) }
            .map_err(|e| PluginError::Open(e.to_string()))?;
        // SAFETY: a weir plugin exports `PluginDeclaration` under this name (made by
        // `export_plugin!`); the symbol is a static, so its address is what we get.
        let declaration: *const PluginDeclaration =
            match unsafe { library.get::<*const PluginDeclaration>(DECLARATION_SYMBOL.as_bytes()) }
            {
                Ok(symbol) => *symbol,
                Err(_) => return Err(PluginError::NotAPlugin),
            };
        // A symbol may be defined with the value 0 (an absolute symbol): dlsym then succeeds
        // with NULL.
        if declaration.is_null() {
            return Err(PluginError::NullDeclaration);
        }
        let expected = std::mem::size_of::<PluginDeclaration>();
        if let Some(found) = symbol_size(declaration.cast())
            && found != expected
        {
            return Err(PluginError::DeclarationSize { found, expected });
        }
        // SAFETY: the magic and layout fields lead the `repr(C)` declaration in every layout
        // version, so they can be read before anything else is trusted; the symbol is not
        // NULL and, where the loader can tell, as large as a declaration.
        let (magic, layout) = unsafe { ((*declaration).magic, (*declaration).layout) };
        if magic != MAGIC {
            return Err(PluginError::NotAPlugin);
        }
        if layout != LAYOUT {
            return Err(PluginError::Layout {
                found: layout,
                expected: LAYOUT,
            });
        }
        // SAFETY: magic and layout match, so the declaration has this struct's C layout; it is
        // immutable static data of a library we keep loaded.
        let declaration: &PluginDeclaration = unsafe { &*declaration };
        let weir_version = declaration.weir_version.to_string_lossy();
        if weir_version != WEIR_VERSION {
            return Err(PluginError::WeirVersion {
                plugin: weir_version,
                host: WEIR_VERSION.to_string(),
            });
        }
        let rustc_version = declaration.rustc_version.to_string_lossy();
        if rustc_version != RUSTC_VERSION {
            return Err(PluginError::Compiler {
                plugin: rustc_version,
                host: RUSTC_VERSION.to_string(),
            });
        }
        let interface_hash = declaration.interface_hash.to_string_lossy();
        if interface_hash != INTERFACE_HASH {
            return Err(PluginError::Interface {
                plugin: interface_hash,
                host: INTERFACE_HASH.to_string(),
            });
        }
        // A C-ABI call returning an integer is sound whichever build made it.
        if (declaration.build_identity)() != build_identity() {
            return Err(PluginError::Build(WEIR_VERSION.to_string()));
        }
        // From here on the plugin's Rust types are this process's Rust types.
        let mut added = Registry::new();
        (declaration.register)(&mut added);
        if let Some(dup) = added
            .type_names()
            .into_iter()
            .find(|t| self.get(t).is_some())
        {
            return Err(PluginError::Duplicate(dup.to_string()));
        }
        let blocks = added.type_names();
        for d in added.iter() {
            self.register(d.clone());
        }
        let name = (declaration.name)().to_string();
        LIBRARIES
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(library);
        Ok(LoadedPlugin {
            path: file.to_path_buf(),
            name,
            blocks,
        })
    }
}

/// Refuses a plugin directory (`dir`) or library that is not an absolute path, or that others
/// than its owner may write (group or other write permission; root can write anything anyway).
fn check_place(path: &Path, dir: bool) -> Result<(), PluginError> {
    use std::os::unix::fs::PermissionsExt;
    if dir && !path.is_absolute() {
        return Err(PluginError::RelativePath);
    }
    // The file itself, not a symbolic link to it (a link's own mode is always 0777).
    let meta = std::fs::metadata(path).map_err(|e| {
        if dir {
            PluginError::Directory(e.to_string())
        } else {
            PluginError::Open(e.to_string())
        }
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (true, true) => "group and others",
        (true, false) => "group",
        (false, true) => "others",
        (false, false) => return Ok(()),
    };
    Err(PluginError::Writable { mode, who })
}

/// The size of the dynamic symbol at `address`, as the dynamic loader knows it (glibc's
/// `dladdr1` with `RTLD_DL_SYMENT`); `None` where it cannot tell.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn symbol_size(address: *const std::ffi::c_void) -> Option<usize> {
    /// `RTLD_DL_SYMENT` of glibc's `dlfcn.h` (not in the libc crate).
    const RTLD_DL_SYMENT: libc::c_int = 1;
    #[cfg(target_pointer_width = "64")]
    type Sym = libc::Elf64_Sym;
    #[cfg(target_pointer_width = "32")]
    type Sym = libc::Elf32_Sym;
    // SAFETY: all-zero is a valid `Dl_info` (pointers and integers), filled in by the call.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let mut symbol: *mut std::ffi::c_void = std::ptr::null_mut();
    // SAFETY: `dladdr1` only reads the loader's tables for `address` (any value is allowed)
    // and writes `info` and `symbol`, both valid for writes.
    let found = unsafe { libc::dladdr1(address, &mut info, &mut symbol, RTLD_DL_SYMENT) };
    if found == 0 || symbol.is_null() || info.dli_saddr.cast_const() != address {
        return None;
    }
    // SAFETY: with `RTLD_DL_SYMENT`, a successful `dladdr1` points `symbol` at the ELF symbol
    // table entry of the symbol at `address`, in the loader's mapping of the library.
    let size = unsafe { (*symbol.cast::<Sym>()).st_size };
    usize::try_from(size).ok()
}

/// Elsewhere the loader cannot say; the magic number is the check.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn symbol_size(_address: *const std::ffi::c_void) -> Option<usize> {
    None
}

/// The block types a flowgraph file's text names (`[blocks.NAME] type = "..."`, as written,
/// variables unexpanded), to tell whether plugins must be loaded to check it; empty when the
/// text is not TOML (the loader reports that, no plugin needed).
pub fn block_types_in(text: &str) -> Vec<String> {
    let Ok(table) = text.parse::<toml::Table>() else {
        return Vec::new();
    };
    let Some(toml::Value::Table(blocks)) = table.get("blocks") else {
        return Vec::new();
    };
    blocks
        .values()
        .filter_map(|b| b.get("type")?.as_str().map(str::to_string))
        .collect()
}
