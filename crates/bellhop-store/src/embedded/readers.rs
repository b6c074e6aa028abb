//! The pool of read-only connections that searches and reads borrow.

use std::sync::PoisonError;

use rusqlite::Connection;

use super::{Inner, schema};
use crate::error::Result;

/// Reader connections per core. Each maps the database and keeps its own page cache, so
/// every extra connection costs resident memory (the pages it touched of a mapping of its
/// own, up to the database's size each); reads are short CPU work, so more connections than
/// this add memory, not throughput, and further readers wait their turn.
pub(super) const READERS_PER_CORE: usize = 1;

/// Read-only connections: idle ones, and how many exist in all.
#[derive(Default)]
pub(super) struct ReaderPool {
    idle: Vec<Connection>,
    open: usize,
}

impl Inner {
    pub(super) fn with_reader<T>(&self, work: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let connection = {
            let mut pool = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if let Some(connection) = pool.idle.pop() {
                    break connection;
                }
                if pool.open < self.max_readers {
                    pool.open += 1;
                    drop(pool);
                    match self.open_reader() {
                        Ok(connection) => break connection,
                        Err(err) => {
                            self.readers
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .open -= 1;
                            self.reader_returned.notify_one();
                            return Err(err);
                        }
                    }
                }
                pool = self
                    .reader_returned
                    .wait(pool)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let result = work(&connection);
        self.readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .idle
            .push(connection);
        self.reader_returned.notify_one();
        result
    }

    fn open_reader(&self) -> Result<Connection> {
        let connection = Connection::open(&self.path)?;
        schema::configure(&connection, true)?;
        Ok(connection)
    }
}
