//! Man-machine dialogue of the roboct scanner (work in progress).

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
