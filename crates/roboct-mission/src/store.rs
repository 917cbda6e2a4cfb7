//! Missions and their append-only event log in an embedded SQLite database (the bundled
//! library: nothing to install), so that a restart finds an interrupted mission and resumes or
//! closes it.
//!
//! Two tables: `missions` (one row per mission: its order as JSON, its phase, whether it is
//! open) and `events` (never updated or deleted: time on the robot's clock, wall time, phase,
//! kind, detail as JSON). Every write is its own transaction in WAL mode with `synchronous =
//! FULL`, so an event that `record` returned for is on disk when the process is killed right
//! after.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use crate::phase::{MissionError, Phase};

fn schema(db: &Connection) -> Result<(), MissionError> {
    db.execute_batch(
        "CREATE TABLE IF NOT EXISTS missions (
            id INTEGER PRIMARY KEY,
            order_json TEXT NOT NULL,
            phase TEXT NOT NULL,
            open INTEGER NOT NULL,
            created_unix_ms INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            mission INTEGER NOT NULL REFERENCES missions(id),
            t_s REAL NOT NULL,
            wall_unix_ms INTEGER NOT NULL,
            phase TEXT NOT NULL,
            kind TEXT NOT NULL,
            detail TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS events_by_mission ON events(mission, seq);",
    )
    .map_err(err)
}

/// One mission's row.
#[derive(Clone, Debug, PartialEq)]
pub struct MissionRow {
    /// Its id.
    pub id: i64,
    /// The order, as JSON (patient data inside: the database is as private as the images).
    pub order_json: String,
    /// The phase it last reached.
    pub phase: Phase,
    /// Still open (not done, not closed).
    pub open: bool,
}

/// One event.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRow {
    /// Mission.
    pub mission: i64,
    /// Sequence within the database.
    pub seq: i64,
    /// Robot clock, s.
    pub t_s: f64,
    /// Phase.
    pub phase: Phase,
    /// Kind (`phase`, `interlock`, `said`, `dose`, `failure`...).
    pub kind: String,
    /// Detail, JSON.
    pub detail: String,
}

/// The mission database.
pub struct Store {
    db: Connection,
}

fn err(e: rusqlite::Error) -> MissionError {
    MissionError::Store(e.to_string())
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, MissionError> {
        let db = Connection::open(path)
            .map_err(|e| MissionError::Store(format!("cannot open {}: {e}", path.display())))?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        db.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        schema(&db)?;
        Ok(Store { db })
    }

    /// Opens an in-memory database (tests).
    pub fn in_memory() -> Result<Store, MissionError> {
        let db = Connection::open_in_memory().map_err(err)?;
        schema(&db)?;
        Ok(Store { db })
    }

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }

    /// A new open mission at [`Phase::OrderReceived`].
    pub fn begin(&mut self, order_json: &str) -> Result<i64, MissionError> {
        self.db
            .execute(
                "INSERT INTO missions (order_json, phase, open, created_unix_ms) VALUES (?1, ?2, 1, ?3)",
                params![order_json, Phase::OrderReceived.name(), Self::now_ms()],
            )
            .map_err(err)?;
        Ok(self.db.last_insert_rowid())
    }

    /// Appends an event and, for `kind == "phase"`, moves the mission to `phase`.
    pub fn record(
        &mut self,
        mission: i64,
        t_s: f64,
        phase: Phase,
        kind: &str,
        detail: &serde_json::Value,
    ) -> Result<(), MissionError> {
        let tx = self.db.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO events (mission, t_s, wall_unix_ms, phase, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![mission, t_s, Self::now_ms(), phase.name(), kind, detail.to_string()],
        )
        .map_err(err)?;
        if kind == "phase" {
            tx.execute(
                "UPDATE missions SET phase = ?1 WHERE id = ?2",
                params![phase.name(), mission],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Closes a mission (done, or closed after a failure or an interruption).
    pub fn close(&mut self, mission: i64, phase: Phase) -> Result<(), MissionError> {
        self.db
            .execute(
                "UPDATE missions SET open = 0, phase = ?1 WHERE id = ?2",
                params![phase.name(), mission],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Closes every mission a crash or a power cut left open, with an event saying where it
    /// stopped; returns them. The images and reports they queued stay in the outbox and are
    /// delivered by the next upload. A restarted robot starts with the beam off and every
    /// axis halted, so nothing physical is left to undo; the order must be given again (the
    /// projections of an interrupted scan are not kept).
    pub fn close_interrupted(&mut self) -> Result<Vec<MissionRow>, MissionError> {
        let open = self.open_missions()?;
        for m in &open {
            self.record(
                m.id,
                0.0,
                m.phase,
                "closed_after_restart",
                &serde_json::json!({
                    "interrupted_in": m.phase.name(),
                    "recovery": "wait for the operator: give the order again",
                }),
            )?;
            self.close(m.id, Phase::Failed)?;
        }
        Ok(open)
    }

    /// The missions still open (interrupted by a crash or a power cut), oldest first.
    pub fn open_missions(&self) -> Result<Vec<MissionRow>, MissionError> {
        let mut st = self
            .db
            .prepare("SELECT id, order_json, phase, open FROM missions WHERE open = 1 ORDER BY id")
            .map_err(err)?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (id, order_json, phase, open) = row.map_err(err)?;
            let phase = Phase::from_name(&phase).ok_or_else(|| {
                MissionError::Store(format!("mission {id}: unknown phase {phase:?}"))
            })?;
            out.push(MissionRow {
                id,
                order_json,
                phase,
                open: open != 0,
            });
        }
        Ok(out)
    }

    /// One mission's row.
    pub fn mission(&self, id: i64) -> Result<Option<MissionRow>, MissionError> {
        self.db
            .query_row(
                "SELECT id, order_json, phase, open FROM missions WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(err)?
            .map(|(id, order_json, phase, open)| {
                Ok(MissionRow {
                    id,
                    order_json,
                    phase: Phase::from_name(&phase)
                        .ok_or_else(|| MissionError::Store(format!("unknown phase {phase:?}")))?,
                    open: open != 0,
                })
            })
            .transpose()
    }

    /// A mission's events in order.
    pub fn events(&self, mission: i64) -> Result<Vec<EventRow>, MissionError> {
        let mut st = self
            .db
            .prepare(
                "SELECT seq, t_s, phase, kind, detail FROM events WHERE mission = ?1 ORDER BY seq",
            )
            .map_err(err)?;
        let rows = st
            .query_map(params![mission], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(err)?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, t_s, phase, kind, detail) = row.map_err(err)?;
            out.push(EventRow {
                mission,
                seq,
                t_s,
                phase: Phase::from_name(&phase).unwrap_or(Phase::Failed),
                kind,
                detail,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_kept_and_open_missions_found_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let id = {
            let mut s = Store::open(&path).unwrap();
            let id = s.begin(r#"{"x":1}"#).unwrap();
            s.record(id, 1.5, Phase::Driving, "phase", &serde_json::json!({}))
                .unwrap();
            s.record(
                id,
                2.0,
                Phase::Driving,
                "said",
                &serde_json::json!({"text": "hello"}),
            )
            .unwrap();
            id
        };
        let s = Store::open(&path).unwrap();
        let open = s.open_missions().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].phase, Phase::Driving);
        let ev = s.events(id).unwrap();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].kind, "said");
        let mut s = s;
        s.close(id, Phase::Done).unwrap();
        assert!(s.open_missions().unwrap().is_empty());
        assert_eq!(s.mission(id).unwrap().unwrap().phase, Phase::Done);
    }
}
