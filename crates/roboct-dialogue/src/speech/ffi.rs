//! The few functions of Debian's libpocketsphinx 5prealpha and libsphinxbase that we call,
//! declared by hand from `/usr/include/pocketsphinx/*.h` and
//! `/usr/include/x86_64-linux-gnu/sphinxbase/*.h`.
//!
//! Hand-declared rather than generated (bindgen would need libclang at build time) or taken
//! from the `pocketsphinx` crate (0.6, unmaintained, binds an older API): two dozen stable C
//! functions are easy to check against the headers, and `speech::sphinx` is the only user.

use std::ffi::{c_char, c_int, c_void};

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

#[link(name = "pocketsphinx")]
#[link(name = "sphinxbase")]
unsafe extern "C" {
    /// `arg_t const *ps_args(void)`
    pub fn ps_args() -> *const Arg;
    /// `cmd_ln_t *cmd_ln_parse_r(cmd_ln_t *, arg_t const *, int32 argc, char *argv[], int32 strict)`.
    /// The returned table keeps pointers to the `argv` strings: they must outlive it.
    pub fn cmd_ln_parse_r(
        inout: *mut CmdLn,
        defn: *const Arg,
        argc: i32,
        argv: *mut *mut c_char,
        strict: i32,
    ) -> *mut CmdLn;
    /// `int cmd_ln_free_r(cmd_ln_t *)`
    pub fn cmd_ln_free_r(cmdln: *mut CmdLn) -> c_int;
    /// `ps_decoder_t *ps_init(cmd_ln_t *)` (retains the configuration).
    pub fn ps_init(config: *mut CmdLn) -> *mut PsDecoder;
    /// `int ps_free(ps_decoder_t *)`
    pub fn ps_free(ps: *mut PsDecoder) -> c_int;
    /// `int ps_add_word(ps_decoder_t *, char const *word, char const *phones, int update)`
    pub fn ps_add_word(
        ps: *mut PsDecoder,
        word: *const c_char,
        phones: *const c_char,
        update: c_int,
    ) -> c_int;
    /// `int ps_set_jsgf_string(ps_decoder_t *, const char *name, const char *jsgf_string)`
    pub fn ps_set_jsgf_string(
        ps: *mut PsDecoder,
        name: *const c_char,
        jsgf: *const c_char,
    ) -> c_int;
    /// `int ps_set_kws(ps_decoder_t *, const char *name, const char *keyfile)`: one key
    /// phrase per line, each with its threshold (`stop /1e-20/`).
    pub fn ps_set_kws(ps: *mut PsDecoder, name: *const c_char, keyfile: *const c_char) -> c_int;
    /// `int ps_set_search(ps_decoder_t *, const char *name)`
    pub fn ps_set_search(ps: *mut PsDecoder, name: *const c_char) -> c_int;
    /// `int ps_start_utt(ps_decoder_t *)`
    pub fn ps_start_utt(ps: *mut PsDecoder) -> c_int;
    /// `int ps_process_raw(ps_decoder_t *, int16 const *data, size_t n_samples, int no_search, int full_utt)`
    pub fn ps_process_raw(
        ps: *mut PsDecoder,
        data: *const i16,
        n_samples: usize,
        no_search: c_int,
        full_utt: c_int,
    ) -> c_int;
    /// `int ps_end_utt(ps_decoder_t *)`
    pub fn ps_end_utt(ps: *mut PsDecoder) -> c_int;
    /// `char const *ps_get_hyp(ps_decoder_t *, int32 *out_best_score)`
    pub fn ps_get_hyp(ps: *mut PsDecoder, out_best_score: *mut i32) -> *const c_char;
    /// `int ps_get_n_frames(ps_decoder_t *)`
    pub fn ps_get_n_frames(ps: *mut PsDecoder) -> c_int;
    /// `ps_seg_t *ps_seg_iter(ps_decoder_t *)`
    pub fn ps_seg_iter(ps: *mut PsDecoder) -> *mut PsSeg;
    /// `ps_seg_t *ps_seg_next(ps_seg_t *)` (frees the iterator and returns NULL at the end)
    pub fn ps_seg_next(seg: *mut PsSeg) -> *mut PsSeg;
    /// `char const *ps_seg_word(ps_seg_t *)`
    pub fn ps_seg_word(seg: *mut PsSeg) -> *const c_char;
    /// `void ps_seg_frames(ps_seg_t *, int *out_sf, int *out_ef)`
    pub fn ps_seg_frames(seg: *mut PsSeg, out_sf: *mut c_int, out_ef: *mut c_int);
    /// `int32 ps_seg_prob(ps_seg_t *, int32 *out_ascr, int32 *out_lscr, int32 *out_lback)`
    pub fn ps_seg_prob(
        seg: *mut PsSeg,
        out_ascr: *mut i32,
        out_lscr: *mut i32,
        out_lback: *mut i32,
    ) -> i32;
    /// `void ps_seg_free(ps_seg_t *)`
    pub fn ps_seg_free(seg: *mut PsSeg);
    /// `void err_set_logfp(FILE *)`: NULL silences the libraries' logging.
    pub fn err_set_logfp(stream: *mut c_void);
}
