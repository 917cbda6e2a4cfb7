//! The few functions of Debian's libpocketsphinx 5prealpha and libsphinxbase that we call,
//! declared by hand from `/usr/include/pocketsphinx/*.h` and
//! `/usr/include/x86_64-linux-gnu/sphinxbase/*.h`, and **loaded when first used** (dlopen
//! through `libloading`), not linked.
//!
//! Loading at run time keeps the speech engine optional: a machine without pocketsphinx
//! builds and runs every other part of roboct (`roboct demo` among them), and `roboct listen`
//! there answers with an error that names the missing package. Hand-declared rather than
//! generated (bindgen would need libclang at build time) or taken from the `pocketsphinx`
//! crate (0.6, unmaintained, binds an older API): two dozen stable C functions are easy to
//! check against the headers, and `sphinx` is the only user.
//!
//! The libraries are looked up as Debian installs them (`libpocketsphinx.so.3`,
//! `libsphinxbase.so.3`, from the packages `libpocketsphinx3` and `libsphinxbase3`), or at the
//! paths in `ROBOCT_POCKETSPHINX_LIB` and `ROBOCT_SPHINXBASE_LIB`.

use std::ffi::{c_char, c_int, c_void};
use std::sync::OnceLock;

use libloading::Library;
use roboct_dialogue::speech::SpeechError;

/// `ps_decoder_t`.
#[repr(C)]
pub struct PsDecoder {
    _opaque: [u8; 0],
}

/// `cmd_ln_t`.
#[repr(C)]
pub struct CmdLn {
    _opaque: [u8; 0],
}

/// `arg_t`.
#[repr(C)]
pub struct Arg {
    _opaque: [u8; 0],
}

/// `ps_seg_t`.
#[repr(C)]
pub struct PsSeg {
    _opaque: [u8; 0],
}

/// The environment variable naming libpocketsphinx's path.
pub const POCKETSPHINX_ENV: &str = "ROBOCT_POCKETSPHINX_LIB";
/// The environment variable naming libsphinxbase's path.
pub const SPHINXBASE_ENV: &str = "ROBOCT_SPHINXBASE_LIB";

/// The functions, resolved from the loaded libraries. Each field's type is its C declaration.
pub struct Api {
    /// `arg_t const *ps_args(void)`
    pub ps_args: unsafe extern "C" fn() -> *const Arg,
    /// `cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *, arg_t const *, int32 argc, char *argv[], int32 strict)`.
    /// The returned table keeps pointers to the `argv` strings: they must outlive it.
    pub cmd_ln_parse_r: unsafe extern "C" fn(
        inout: *mut CmdLn,
        defn: *const Arg,
        argc: i32,
        argv: *mut *mut c_char,
        strict: i32,
    ) -> *mut CmdLn,
    /// `int cmd_ln_free_r(cmd_ln_t *)`
    pub cmd_ln_free_r: unsafe extern "C" fn(cmdln: *mut CmdLn) -> c_int,
    /// `ps_decoder_t *ps_init(cmd_ln_t *)` (retains the configuration).
    pub ps_init: unsafe extern "C" fn(config: *mut CmdLn) -> *mut PsDecoder,
    /// `int ps_free(ps_decoder_t *)`
    pub ps_free: unsafe extern "C" fn(ps: *mut PsDecoder) -> c_int,
    /// `int ps_add_word(ps_decoder_t *, char const *word, char const *phones, int update)`
    pub ps_add_word: unsafe extern "C" fn(
        ps: *mut PsDecoder,
        word: *const c_char,
        phones: *const c_char,
        update: c_int,
    ) -> c_int,
    /// `int ps_set_jsgf_string(ps_decoder_t *, const char *name, const char *jsgf_string)`
    pub ps_set_jsgf_string:
        unsafe extern "C" fn(ps: *mut PsDecoder, name: *const c_char, jsgf: *const c_char) -> c_int,
    /// `int ps_set_kws(ps_decoder_t *, const char *name, const char *keyfile)`: one key
    /// phrase per line, each with its threshold (`stop /1e-20/`).
    pub ps_set_kws: unsafe extern "C" fn(
        ps: *mut PsDecoder,
        name: *const c_char,
        keyfile: *const c_char,
    ) -> c_int,
    /// `int ps_set_search(ps_decoder_t *, const char *name)`
    pub ps_set_search: unsafe extern "C" fn(ps: *mut PsDecoder, name: *const c_char) -> c_int,
    /// `int ps_start_utt(ps_decoder_t *)`
    pub ps_start_utt: unsafe extern "C" fn(ps: *mut PsDecoder) -> c_int,
    /// `int ps_process_raw(ps_decoder_t *, int16 const *data, size_t n_samples, int no_search, int full_utt)`
    pub ps_process_raw: unsafe extern "C" fn(
        ps: *mut PsDecoder,
        data: *const i16,
        n_samples: usize,
        no_search: c_int,
        full_utt: c_int,
    ) -> c_int,
    /// `int ps_end_utt(ps_decoder_t *)`
    pub ps_end_utt: unsafe extern "C" fn(ps: *mut PsDecoder) -> c_int,
    /// `char const *ps_get_hyp(ps_decoder_t *, int32 *out_best_score)`
    pub ps_get_hyp:
        unsafe extern "C" fn(ps: *mut PsDecoder, out_best_score: *mut i32) -> *const c_char,
    /// `int ps_get_n_frames(ps_decoder_t *)`
    pub ps_get_n_frames: unsafe extern "C" fn(ps: *mut PsDecoder) -> c_int,
    /// `ps_seg_t *ps_seg_iter(ps_decoder_t *)`
    pub ps_seg_iter: unsafe extern "C" fn(ps: *mut PsDecoder) -> *mut PsSeg,
    /// `ps_seg_t *ps_seg_next(ps_seg_t *)` (frees the iterator and returns NULL at the end)
    pub ps_seg_next: unsafe extern "C" fn(seg: *mut PsSeg) -> *mut PsSeg,
    /// `char const *ps_seg_word(ps_seg_t *)`
    pub ps_seg_word: unsafe extern "C" fn(seg: *mut PsSeg) -> *const c_char,
    /// `void ps_seg_frames(ps_seg_t *, int *out_sf, int *out_ef)`
    pub ps_seg_frames:
        unsafe extern "C" fn(seg: *mut PsSeg, out_sf: *mut c_int, out_ef: *mut c_int),
    /// `int32 ps_seg_prob(ps_seg_t *, int32 *out_ascr, int32 *out_lscr, int32 *out_lback)`
    pub ps_seg_prob: unsafe extern "C" fn(
        seg: *mut PsSeg,
        out_ascr: *mut i32,
        out_lscr: *mut i32,
        out_lback: *mut i32,
    ) -> i32,
    /// `void ps_seg_free(ps_seg_t *)`
    pub ps_seg_free: unsafe extern "C" fn(seg: *mut PsSeg),
    /// `void err_set_logfp(FILE *)`: NULL silences the libraries' logging.
    pub err_set_logfp: unsafe extern "C" fn(stream: *mut c_void),
    // The libraries stay loaded as long as the function pointers above may be called: the
    // table lives in a process-wide `OnceLock` and is never dropped.
    _sphinxbase: Library,
    _pocketsphinx: Library,
}

/// Why loading failed, kept so that every later call gives the same answer.
#[derive(Clone, Debug)]
struct LoadFailure {
    library: String,
    package: &'static str,
    env_var: &'static str,
    detail: String,
}

impl From<&LoadFailure> for SpeechError {
    fn from(f: &LoadFailure) -> Self {
        SpeechError::LibraryMissing {
            library: f.library.clone(),
            package: f.package,
            env_var: f.env_var,
            detail: f.detail.clone(),
        }
    }
}

/// The functions, loading the libraries on the first call. Fails (every time, with the same
/// error) when a library or one of its functions is missing.
pub fn api() -> Result<&'static Api, SpeechError> {
    static API: OnceLock<Result<Api, LoadFailure>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(SpeechError::from)
}

fn open(
    env_var: &'static str,
    default: &str,
    package: &'static str,
) -> Result<Library, LoadFailure> {
    let library = std::env::var(env_var).unwrap_or_else(|_| default.to_string());
    // SAFETY: loading runs the library's initialisers; libsphinxbase and libpocketsphinx have
    // none that touch our process state beyond their own globals.
    unsafe { Library::new(&library) }.map_err(|e| LoadFailure {
        library,
        package,
        env_var,
        detail: e.to_string(),
    })
}

fn load() -> Result<Api, LoadFailure> {
    // sphinxbase first: libpocketsphinx needs it, and a missing sphinxbase then names itself.
    let sphinxbase = open(SPHINXBASE_ENV, "libsphinxbase.so.3", "libsphinxbase3")?;
    let pocketsphinx = open(POCKETSPHINX_ENV, "libpocketsphinx.so.3", "libpocketsphinx3")?;
    macro_rules! sym {
        ($lib:ident, $libname:literal, $package:literal, $env:ident, $name:ident) => {{
            // SAFETY: the field's type is the C declaration of this symbol (see the field's
            // doc, checked against the headers); the library outlives the pointer (both are
            // kept in `Api`).
            let f = unsafe { $lib.get(concat!(stringify!($name), "\0").as_bytes()) };
            let f = f.map_err(|e| LoadFailure {
                library: $libname.to_string(),
                package: $package,
                env_var: $env,
                detail: format!("no function {}: {e}", stringify!($name)),
            })?;
            *f
        }};
    }
    macro_rules! ps {
        ($name:ident) => {
            sym!(
                pocketsphinx,
                "libpocketsphinx",
                "libpocketsphinx3",
                POCKETSPHINX_ENV,
                $name
            )
        };
    }
    macro_rules! sb {
        ($name:ident) => {
            sym!(
                sphinxbase,
                "libsphinxbase",
                "libsphinxbase3",
                SPHINXBASE_ENV,
                $name
            )
        };
    }
    Ok(Api {
        ps_args: ps!(ps_args),
        cmd_ln_parse_r: sb!(cmd_ln_parse_r),
        cmd_ln_free_r: sb!(cmd_ln_free_r),
        ps_init: ps!(ps_init),
        ps_free: ps!(ps_free),
        ps_add_word: ps!(ps_add_word),
        ps_set_jsgf_string: ps!(ps_set_jsgf_string),
        ps_set_kws: ps!(ps_set_kws),
        ps_set_search: ps!(ps_set_search),
        ps_start_utt: ps!(ps_start_utt),
        ps_process_raw: ps!(ps_process_raw),
        ps_end_utt: ps!(ps_end_utt),
        ps_get_hyp: ps!(ps_get_hyp),
        ps_get_n_frames: ps!(ps_get_n_frames),
        ps_seg_iter: ps!(ps_seg_iter),
        ps_seg_next: ps!(ps_seg_next),
        ps_seg_word: ps!(ps_seg_word),
        ps_seg_frames: ps!(ps_seg_frames),
        ps_seg_prob: ps!(ps_seg_prob),
        ps_seg_free: ps!(ps_seg_free),
        err_set_logfp: sb!(err_set_logfp),
        _sphinxbase: sphinxbase,
        _pocketsphinx: pocketsphinx,
    })
}
