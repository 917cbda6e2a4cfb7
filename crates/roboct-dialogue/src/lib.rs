//! Man-machine dialogue of the roboct scanner (work in progress).

pub mod audio;
pub mod command;
pub mod language;
pub mod parse;
pub mod zh;
