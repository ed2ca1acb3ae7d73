//! The few Tesseract C API functions docfleet uses (`tesseract/capi.h`), bound at run time.
//!
//! Why `dlopen` and not a link-time dependency: the docfleet binary must start, and run
//! text-only workloads, on machines without Tesseract, and say what to install when OCR is
//! asked for (as it does for libpdfium). So no `libtesseract-dev` headers or bindgen either: the
//! signatures below are copied from `capi.h` of Tesseract 4/5, whose C API is stable.
//!
//! All `unsafe` of the crate lives here, behind two safe types: [`TessLib`] (the loaded library
//! and its function pointers) and [`Engine`] (one `TessBaseAPI*`).
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsStr, c_char, c_int, c_void};
use std::ptr::NonNull;
use std::sync::Arc;

/// Opaque `TessBaseAPI`.
type Api = c_void;
/// Opaque `ETEXT_DESC` (the progress/cancel monitor).
type Monitor = c_void;

/// Function pointers, copied out of the library; valid while `TessLib::_lib` is loaded.
#[derive(Clone, Copy)]
struct Fns {
    version: unsafe extern "C" fn() -> *const c_char,
    create: unsafe extern "C" fn() -> *mut Api,
    delete: unsafe extern "C" fn(*mut Api),
    end: unsafe extern "C" fn(*mut Api),
    init3: unsafe extern "C" fn(*mut Api, *const c_char, *const c_char) -> c_int,
    set_variable: unsafe extern "C" fn(*mut Api, *const c_char, *const c_char) -> c_int,
    set_image: unsafe extern "C" fn(*mut Api, *const u8, c_int, c_int, c_int, c_int),
    set_source_resolution: unsafe extern "C" fn(*mut Api, c_int),
    recognize: unsafe extern "C" fn(*mut Api, *mut Monitor) -> c_int,
    get_utf8_text: unsafe extern "C" fn(*mut Api) -> *mut c_char,
    delete_text: unsafe extern "C" fn(*const c_char),
    mean_text_conf: unsafe extern "C" fn(*mut Api) -> c_int,
    clear: unsafe extern "C" fn(*mut Api),
    monitor_create: unsafe extern "C" fn() -> *mut Monitor,
    monitor_delete: unsafe extern "C" fn(*mut Monitor),
    monitor_set_deadline_msecs: unsafe extern "C" fn(*mut Monitor, c_int),
}

/// A loaded libtesseract.
pub(crate) struct TessLib {
    fns: Fns,
    // Declared after `fns` and never unloaded while a `TessLib` (or an `Engine`, through its
    // `Arc`) exists, so the copied function pointers stay valid.
    _lib: libloading::Library,
}

impl TessLib {
    /// `dlopen`s `path` (a file name is looked up on the loader's search path) and resolves
    /// every function; a missing symbol is an error (not a Tesseract 4/5 C API).
    pub(crate) fn open(path: &OsStr) -> Result<TessLib, String> {
        // SAFETY: loading a shared library runs its initialisers. libtesseract's (C++ static
        // constructors, libgomp's environment parsing) have no preconditions on our side; this
        // is the same trust the system's `tesseract` binary places in it.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the symbol's type is the signature declared in tesseract/capi.h
                // (Tesseract 4.x and 5.x); the pointer is copied out and only used while `lib`
                // is loaded (see `TessLib::_lib`).
                *unsafe { lib.get(concat!($name, "\0").as_bytes()) }
                    .map_err(|e| format!("{}: {e}", $name))?
            };
        }
        let fns = Fns {
            version: sym!("TessVersion"),
            create: sym!("TessBaseAPICreate"),
            delete: sym!("TessBaseAPIDelete"),
            end: sym!("TessBaseAPIEnd"),
            init3: sym!("TessBaseAPIInit3"),
            set_variable: sym!("TessBaseAPISetVariable"),
            set_image: sym!("TessBaseAPISetImage"),
            set_source_resolution: sym!("TessBaseAPISetSourceResolution"),
            recognize: sym!("TessBaseAPIRecognize"),
            get_utf8_text: sym!("TessBaseAPIGetUTF8Text"),
            delete_text: sym!("TessDeleteText"),
            mean_text_conf: sym!("TessBaseAPIMeanTextConf"),
            clear: sym!("TessBaseAPIClear"),
            monitor_create: sym!("TessMonitorCreate"),
            monitor_delete: sym!("TessMonitorDelete"),
            monitor_set_deadline_msecs: sym!("TessMonitorSetDeadlineMSecs"),
        };
        Ok(TessLib { fns, _lib: lib })
    }

    /// `TessVersion()`, e.g. "5.3.0".
    pub(crate) fn version(&self) -> String {
        // SAFETY: TessVersion takes no arguments and returns a pointer to a static,
        // NUL-terminated string (or, defensively, null).
        let ptr = unsafe { (self.fns.version)() };
        if ptr.is_null() {
            return String::new();
        }
        // SAFETY: non-null, NUL-terminated and static (see above); copied before returning.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

/// What one `Recognize` call ended with.
pub(crate) enum Outcome {
    /// Text (UTF-8, as Tesseract formats it) and mean confidence (0..=100).
    Text(String, i32),
    /// `Recognize` returned this non-zero code (a deadline passes as -1 too).
    Error(c_int),
}

/// One `TessBaseAPI`, initialised for a language set. Not `Sync` (Tesseract's API object is
/// not safe to share), but `Send`: it has no thread affinity.
pub(crate) struct Engine {
    api: NonNull<Api>,
    lib: Arc<TessLib>,
}

// SAFETY: a TessBaseAPI is plain heap state with no thread-local or thread-affine parts; moving
// it to another thread is fine as long as only one thread uses it at a time, which `&mut self`
// on every method (and the absence of `Sync`) guarantees.
unsafe impl Send for Engine {}

impl Engine {
    /// `TessBaseAPICreate` + `TessBaseAPIInit3(datapath, languages)`. Errors are Tesseract's
    /// return code (it prints its reason through its debug output).
    pub(crate) fn new(
        lib: Arc<TessLib>,
        datapath: &CStr,
        languages: &CStr,
    ) -> Result<Engine, String> {
        // SAFETY: no arguments; returns a new heap object or null.
        let api = unsafe { (lib.fns.create)() };
        let api = NonNull::new(api).ok_or("TessBaseAPICreate returned null")?;
        let mut engine = Engine { api, lib };
        // Tesseract writes warnings ("Estimating resolution as ...") to stderr unless told
        // otherwise; the worker's stderr is for its own logs.
        engine.set_variable(c"debug_file", c"/dev/null");
        // SAFETY: `api` is a live TessBaseAPI; both strings are NUL-terminated and outlive the
        // call (Tesseract copies them).
        let rc = unsafe {
            (engine.lib.fns.init3)(engine.api.as_ptr(), datapath.as_ptr(), languages.as_ptr())
        };
        if rc != 0 {
            // `engine` drops here: End + Delete, which is valid after a failed Init.
            return Err(format!("TessBaseAPIInit3 returned {rc}"));
        }
        engine.set_variable(c"debug_file", c"/dev/null");
        Ok(engine)
    }

    /// `TessBaseAPISetVariable`; false when Tesseract does not know the variable.
    pub(crate) fn set_variable(&mut self, name: &CStr, value: &CStr) -> bool {
        // SAFETY: live api; NUL-terminated strings that outlive the call (Tesseract copies).
        unsafe {
            (self.lib.fns.set_variable)(self.api.as_ptr(), name.as_ptr(), value.as_ptr()) != 0
        }
    }

    /// Recognises one 8-bit gray image (`pixels.len() == width * height`, row-major).
    /// `ppi` 0 = unknown (Tesseract estimates it from the text size); `deadline_ms` 0 = none.
    pub(crate) fn recognize(
        &mut self,
        pixels: &[u8],
        width: c_int,
        height: c_int,
        ppi: c_int,
        deadline_ms: c_int,
    ) -> Outcome {
        let api = self.api.as_ptr();
        let f = self.lib.fns;
        assert!(
            width > 0 && height > 0 && pixels.len() == width as usize * height as usize,
            "gray buffer does not match its dimensions"
        );
        // SAFETY: live api; `pixels` holds width*height bytes (asserted), bytes_per_pixel 1 and
        // bytes_per_line = width describe exactly that buffer; Tesseract copies the image into
        // its own Pix during this call, and `pixels` outlives the whole function anyway.
        unsafe { (f.set_image)(api, pixels.as_ptr(), width, height, 1, width) };
        if ppi > 0 {
            // SAFETY: live api, plain int; must follow SetImage (which resets it).
            unsafe { (f.set_source_resolution)(api, ppi) };
        }
        let monitor = if deadline_ms > 0 {
            // SAFETY: no arguments; returns a new ETEXT_DESC or null.
            let m = unsafe { (f.monitor_create)() };
            if !m.is_null() {
                // SAFETY: `m` is a live monitor; the deadline counts from now.
                unsafe { (f.monitor_set_deadline_msecs)(m, deadline_ms) };
            }
            m
        } else {
            std::ptr::null_mut()
        };
        // SAFETY: live api with an image set; `monitor` is null (allowed: no monitor) or a live
        // ETEXT_DESC that outlives the call (deleted below).
        let rc = unsafe { (f.recognize)(api, monitor) };
        if !monitor.is_null() {
            // SAFETY: created above, not used after this.
            unsafe { (f.monitor_delete)(monitor) };
        }
        let outcome = if rc != 0 {
            // Not GetUTF8Text here: without results it would run Recognize again, unbounded.
            Outcome::Error(rc)
        } else {
            // SAFETY: live api after a successful Recognize: returns the results as a new
            // NUL-terminated string (freed with TessDeleteText) or null.
            let ptr = unsafe { (f.get_utf8_text)(api) };
            let text = if ptr.is_null() {
                String::new()
            } else {
                // SAFETY: non-null, NUL-terminated, owned by us until TessDeleteText.
                let text = unsafe { CStr::from_ptr(ptr) }
                    .to_string_lossy()
                    .into_owned();
                // SAFETY: `ptr` came from GetUTF8Text and is freed exactly once.
                unsafe { (f.delete_text)(ptr) };
                text
            };
            // SAFETY: live api after a successful Recognize (results present, no re-run).
            let conf = unsafe { (f.mean_text_conf)(api) };
            Outcome::Text(text, conf)
        };
        // SAFETY: live api; frees the image and results, keeps the loaded languages.
        unsafe { (f.clear)(api) };
        outcome
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: `api` came from TessBaseAPICreate, is ended and deleted exactly once, here;
        // `self.lib` keeps the library loaded until after this.
        unsafe {
            (self.lib.fns.end)(self.api.as_ptr());
            (self.lib.fns.delete)(self.api.as_ptr());
        }
    }
}

/// A `CString` from a path/language string; interior NULs cannot come from valid input.
pub(crate) fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("{s:?} contains a NUL byte"))
}
