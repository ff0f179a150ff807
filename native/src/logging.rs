//! The native library's `log` records, kept for the JVM to drain into the executor's own logger.
//! The JVM drains them after the calls that log; nothing here calls into the JVM, so records from
//! any thread are safe to keep.

use std::collections::VecDeque;
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Records kept between drains; older ones are dropped first.
const CAPACITY: usize = 256;

static RECORDS: Mutex<VecDeque<(Level, String)>> = Mutex::new(VecDeque::new());

struct Queue;

impl Log for Queue {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Info && metadata.target().starts_with("sparkort")
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut records = RECORDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if records.len() == CAPACITY {
                records.pop_front();
            }
            records.push_back((record.level(), record.args().to_string()));
        }
    }

    fn flush(&self) {}
}

static QUEUE: Queue = Queue;

/// Sends this library's log records to the queue; a no-op when the process has another logger.
pub fn init() {
    if log::set_logger(&QUEUE).is_ok() {
        log::set_max_level(LevelFilter::Info);
    }
}

/// The records logged since the last drain, oldest first.
pub fn drain() -> Vec<(Level, String)> {
    RECORDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain(..).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_records_of_this_library() {
        init();
        drain();
        log::info!(target: "other_crate", "not ours");
        for i in 0..CAPACITY + 3 {
            log::warn!("record {i}");
        }
        log::debug!("below info");
        let records = drain();
        assert_eq!(records.len(), CAPACITY);
        assert_eq!(records[0], (Level::Warn, "record 3".to_string()));
        assert!(drain().is_empty());
    }
}
