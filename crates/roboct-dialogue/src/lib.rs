//! Man-machine dialogue of the roboct scanner: the command language defined once as data
//! ([`language`]), text understanding ([`parse`], Chinese in [`zh`]), the dialogue manager
//! ([`dialogue`]), and the traits of speech in ([`speech`]) and out ([`tts`]); the engines
//! (pocketsphinx, espeak-ng) and the voice evaluation are in the `roboct-speech` crate, so this
//! one needs no system library.

#![forbid(unsafe_code)]

pub mod audio;
pub mod command;
pub mod dialogue;
pub mod language;
pub mod order;
pub mod parse;
pub mod reply;
pub mod sim;
pub mod speech;
pub mod tts;
pub mod zh;
