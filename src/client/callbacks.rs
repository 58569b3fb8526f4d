//! The callback thread: user callbacks (a lock's `on_lost`) run here, one at
//! a time, never on the event thread, so a slow or panicking one delays only
//! other user callbacks. It starts on first use and ends with the client.

use super::shared::{Callback, Shared};
use std::panic::{AssertUnwindSafe, catch_unwind};

impl Shared {
    /// Runs `f` on the client's callback thread (started on first use):
    /// one callback at a time, panics caught and logged.
    pub fn run_callback(&self, f: Callback) {
        let mut tx = self.callbacks.tx.lock();
        let tx = tx.get_or_insert_with(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<Callback>();
            let spawned = std::thread::Builder::new()
                .name("zklock-callbacks".into())
                .spawn(move || {
                    // Ends when the client (and with it the sender) is gone.
                    for f in rx {
                        if catch_unwind(AssertUnwindSafe(f)).is_err() {
                            log::error!("zklock: a user callback panicked; ignored");
                        }
                    }
                });
            if let Err(e) = spawned {
                log::error!("zklock: cannot start the callback thread: {e}");
            }
            tx
        });
        let _ = tx.send(f);
    }
}
