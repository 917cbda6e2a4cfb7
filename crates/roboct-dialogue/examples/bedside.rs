//! A typed conversation at the bedside, from "scan" to an armed scan, on the simulated
//! machine; then the operator's exposure switch turns the beam on, and a spoken "stop" cuts
//! it. Shows the dialogue manager, the test order and the interlocks working together.
//!
//! Run with: `cargo run -p roboct-dialogue --example bedside`

use roboct_core::units::{Mgy, Seconds};
use roboct_dialogue::command::{BodyPart, Protocol};
use roboct_dialogue::dialogue::{Dialogue, DialogueConfig};
use roboct_dialogue::order::{DoseModel, ScanOrder, TestOrder};
use roboct_dialogue::sim::SimMachine;

/// The scanner's dose model stands in as one figure: a real scanner computes it from its
/// tube model (`roboct_mission::ScannerDoses`).
struct LowDoseChestOnly;

impl DoseModel for LowDoseChestOnly {
    fn planned_ctdivol(&self, body_part: BodyPart, protocol: Protocol) -> Option<Mgy> {
        (body_part == BodyPart::Chest && protocol == Protocol::LowDose).then_some(Mgy(2.7))
    }
}

fn main() {
    let order = TestOrder::example();
    let mut machine = SimMachine::parked_at(order.location());
    let mut dialogue = Dialogue::new(
        Some(order),
        DialogueConfig::default(),
        Box::new(LowDoseChestOnly),
    );
    let lines = [
        "um, could you scan please",
        "the chest",
        "low dose",
        "patient number four seven one one",
        "confirm",
    ];
    for (i, line) in lines.iter().enumerate() {
        let turn = dialogue.handle_text(line, &machine.world, Seconds(2.0 * i as f64));
        machine.apply(&turn.actions);
        println!("staff:  {line}");
        println!("roboct: {}", turn.reply.speak());
        if !turn.actions.is_empty() {
            println!("        actions: {:?}", turn.actions);
        }
    }
    // Voice armed the scan; only the held switch exposes.
    let beam = machine.hold_exposure_switch(true);
    println!("operator holds the exposure switch: beam on = {beam}");
    let turn = dialogue.handle_text("stop", &machine.world, Seconds(12.0));
    machine.apply(&turn.actions);
    println!("staff:  stop");
    println!("roboct: {}", turn.reply.speak());
    println!(
        "beam on = {}, stop latched = {}",
        machine.world.interlocks.beam_on, machine.world.interlocks.stop_latched
    );
}
