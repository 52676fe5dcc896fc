//! Enforced sinks as the journal's commit participant: all-or-nothing with the journal.

use std::sync::{Arc, Mutex};

use vigil_store::{CommitParticipant, JournalRecord, SinkMark};

use super::{SinkGate, SinkWriter};

pub struct EnforcedSinks {
    state: Mutex<State>,
    /// Enforced network sinks: each may refuse new commits while it is too far behind.
    gates: Vec<Arc<dyn SinkGate>>,
}

struct State {
    sinks: Vec<SinkWriter>,
    /// Per sink, its length and cursor before the prepared (not yet committed) batch.
    pending: Option<Vec<(u64, u64)>>,
}

impl EnforcedSinks {
    pub fn new(sinks: Vec<SinkWriter>, gates: Vec<Arc<dyn SinkGate>>) -> Self {
        EnforcedSinks { state: Mutex::new(State { sinks, pending: None }), gates }
    }

    fn gates_open(&self) -> Result<(), String> {
        self.gates.iter().try_for_each(|g| g.check())
    }
}

impl State {
    fn undo(&mut self) {
        let Some(before) = self.pending.take() else { return };
        for (sink, (len, through)) in self.sinks.iter_mut().zip(before) {
            if let Err(e) = sink.out.truncate_to(len) {
                // The next start cuts the file back to its committed length anyway.
                tracing::error!(sink = sink.spec.name, error = %e, "could not cut an uncommitted audit batch");
            }
            sink.through = through;
        }
    }
}

impl CommitParticipant for EnforcedSinks {
    fn through(&self) -> u64 {
        let st = self.state.lock().expect("sink lock");
        // With network gates only, nothing is written here: no records are wanted.
        st.sinks.iter().map(|s| s.through).min().unwrap_or(u64::MAX)
    }

    fn prepare(&self, records: &[JournalRecord]) -> Result<Vec<SinkMark>, String> {
        self.gates_open()?;
        let mut st = self.state.lock().expect("sink lock");
        st.undo();
        let Some(last) = records.last().map(|r| r.seq) else { return Ok(Vec::new()) };
        // Rotate here, between commits, so the new file's identity commits with the first batch written to it.
        for sink in &mut st.sinks {
            if let Err(e) = sink.out.rotate_if_due() {
                tracing::error!(sink = sink.spec.name, error = %e, "audit sink rotation failed; writing on");
            }
        }
        st.pending = Some(st.sinks.iter().map(|s| (s.out.len(), s.through)).collect());
        let mut marks = Vec::new();
        for i in 0..st.sinks.len() {
            let sink = &mut st.sinks[i];
            let result = sink.render(records).and_then(|(lines, n)| {
                sink.out.write_durably(&lines).map_err(|e| format!("audit sink {:?}: {e}", sink.spec.name))?;
                Ok(n)
            });
            match result {
                Ok(n) => {
                    metrics::counter!("vigil_audit_sink_events_total", "sink" => sink.spec.name.clone())
                        .increment(n as u64);
                    sink.through = last;
                    marks.push(sink.mark());
                }
                Err(e) => {
                    metrics::counter!("vigil_audit_sink_errors_total", "sink" => sink.spec.name.clone()).increment(1);
                    st.undo();
                    return Err(e);
                }
            }
        }
        Ok(marks)
    }

    fn committed(&self) {
        self.state.lock().expect("sink lock").pending = None;
    }

    fn aborted(&self) {
        self.state.lock().expect("sink lock").undo();
    }

    fn probe(&self) -> Result<(), String> {
        self.gates_open()?;
        let mut st = self.state.lock().expect("sink lock");
        for sink in &mut st.sinks {
            sink.out.write_durably(b"").map_err(|e| format!("audit sink {:?}: {e}", sink.spec.name))?;
            if let super::Output::File(f) = &mut sink.out {
                f.sync().map_err(|e| format!("audit sink {:?}: {e}", sink.spec.name))?;
            }
        }
        Ok(())
    }
}
