//! The robot as one machine.
//!
//! * [`hardware`]: the traits a device maker implements (drive base, gantry, beam, exposure
//!   switch, battery, speaker, room sensor; the tube and detector are `roboct_scanner`'s), with
//!   the integration guide.
//! * [`world`]: every device behind one [`world::Hardware`], and the simulated robot
//!   ([`world::SimWorld`]) built from [`sim`]'s devices with a simulated patient and operator.
//! * [`interlock`]: every actuator command through `roboct_safety`, and the watchdog that
//!   cuts beam and motion within a tick.
//! * [`mission`]: the state machine from the order to the dock, time and energy per phase.
//! * [`ct`]: planning, exposure, reconstruction streamed to the PACS, and the reports;
//!   [`technique`]: the protocol book it plans from, and the dose model the dialogue reads
//!   back ([`technique::ScannerDoses`]).
//! * [`store`]: missions and their event log in SQLite; [`phase`]: phases, failures and their
//!   recovery classes.
//! * [`summary`]: a finished mission's summary for people.

#![forbid(unsafe_code)]

pub mod ct;
pub mod demo;
pub mod hardware;
pub mod interlock;
pub mod mission;
pub mod phase;
pub mod sim;
pub mod site;
pub mod store;
pub mod summary;
pub mod technique;
pub mod world;
