//! Man-machine dialogue of the roboct scanner: the command language defined once as data
//! ([`language`]), text understanding ([`parse`], Chinese in [`zh`]), the dialogue manager
//! ([`dialogue`]), speech in with pocketsphinx ([`speech`]) and out with espeak-ng ([`tts`]),
//! and the voice evaluation ([`eval`]).

pub mod audio;
pub mod command;
pub mod dialogue;
pub mod eval;
pub mod language;
pub mod order;
pub mod parse;
pub mod reply;
pub mod sim;
pub mod speech;
pub mod tts;
pub mod zh;
