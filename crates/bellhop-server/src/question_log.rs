//! The question log seen from the server: every `/ask` answer is logged under the id it is
//! sent with, and expired records are deleted on a timer.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bellhop_answer::{AskEvent, AskOutcome};
use bellhop_store::NewAnswerRecord;
use tokio::sync::mpsc;

use crate::state::AppState;

/// How often expired records are looked for.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(3_600);

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}

/// A fresh answer id.
pub fn new_answer_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Logs an answer before it is sent, so that feedback on it always finds it; a failed write
/// is reported in the server's log only, and the guest gets the answer all the same.
pub async fn record(
    state: &AppState,
    collection: &str,
    question: &str,
    answer_id: &str,
    outcome: &AskOutcome,
) {
    let mut cited_documents: Vec<String> = Vec::new();
    for citation in &outcome.answer.citations {
        if !cited_documents.contains(&citation.document_id) {
            cited_documents.push(citation.document_id.clone());
        }
    }
    let record = NewAnswerRecord {
        id: answer_id.to_string(),
        question: question.to_string(),
        answer: outcome.answer.answer.clone(),
        abstained: outcome.answer.abstained,
        cited_documents,
        language: outcome.question_language.clone(),
        asked_at: now(),
    };
    if let Err(err) = state.engine.store().record_answer(collection, record).await {
        tracing::warn!(%collection, %err, "the answer could not be logged");
    }
}

/// The events of a streamed answer, passed on unchanged; the answer is logged before its
/// `done` event goes on.
pub fn logged_events(
    state: &Arc<AppState>,
    collection: &str,
    question: &str,
    answer_id: &str,
    mut events: mpsc::Receiver<AskEvent>,
) -> mpsc::Receiver<AskEvent> {
    let (sender, receiver) = mpsc::channel(events.max_capacity().max(1));
    let state = Arc::clone(state);
    let (collection, question, answer_id) = (
        collection.to_string(),
        question.to_string(),
        answer_id.to_string(),
    );
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let AskEvent::Done(outcome) = &event {
                record(&state, &collection, &question, &answer_id, outcome).await;
            }
            // A guest who left still asked: the rest is drained and logged all the same.
            let _ = sender.send(event).await;
        }
    });
    receiver
}

/// The expiry task; dropping it stops the task.
pub struct ExpiryTask(tokio::task::JoinHandle<()>);

impl Drop for ExpiryTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Deletes expired records now and then every [`EXPIRY_INTERVAL`], and forgets idle
/// clients' rate-limit buckets, until the returned task is dropped.
pub fn spawn_expiry(state: Arc<AppState>) -> ExpiryTask {
    ExpiryTask(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EXPIRY_INTERVAL);
        loop {
            ticks.tick().await;
            match state.engine.store().delete_expired_answers(now()).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "expired questions deleted"),
                Err(err) => tracing::warn!(%err, "expired questions could not be deleted"),
            }
            state.keys.guest_limits().forget_idle_clients();
        }
    }))
}
