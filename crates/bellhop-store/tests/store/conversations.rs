//! The question log against both backends: answers logged and listed, feedback recorded and
//! refused for unknown answers, expiry by each collection's retention.

use bellhop_store::{
    CollectionSpec, Feedback, IndexKind, NewAnswerRecord, QuestionQuery, Rating, Store, StoreError,
};

use crate::common::{Backend, create};

const DAY: i64 = 86_400;
const NOW: i64 = 1_800_000_000;

fn record(id: &str, question: &str, abstained: bool, asked_at: i64) -> NewAnswerRecord {
    NewAnswerRecord {
        id: id.into(),
        question: question.into(),
        answer: if abstained {
            "Reception is happy to help.".into()
        } else {
            "Breakfast is served from 7 [1].".into()
        },
        abstained,
        cited_documents: if abstained {
            Vec::new()
        } else {
            vec!["dining".into()]
        },
        language: Some("en".into()),
        asked_at,
    }
}

fn ids(records: &[bellhop_store::AnswerRecord]) -> Vec<&str> {
    records.iter().map(|record| record.id.as_str()).collect()
}

async fn answers_are_logged_and_listed_newest_first(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", 4, IndexKind::Exact).await;
    create(&store, "spa", 4, IndexKind::Exact).await;
    store
        .record_answer("hotel", record("a1", "When is breakfast?", false, NOW - 30))
        .await
        .unwrap();
    store
        .record_answer("hotel", record("a2", "Is there a casino?", true, NOW - 20))
        .await
        .unwrap();
    store
        .record_answer("spa", record("s1", "Is the sauna open?", false, NOW - 10))
        .await
        .unwrap();

    let all = store
        .questions("hotel", &QuestionQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&all), ["a2", "a1"]);
    assert_eq!(all[1].question, "When is breakfast?");
    assert_eq!(all[1].cited_documents, ["dining"]);
    assert_eq!(all[1].language.as_deref(), Some("en"));
    assert!(all[0].abstained && all[0].feedback.is_none());

    let unanswered = QuestionQuery {
        answered: Some(false),
        ..QuestionQuery::default()
    };
    assert_eq!(
        ids(&store.questions("hotel", &unanswered).await.unwrap()),
        ["a2"]
    );
    let recent = QuestionQuery {
        since: Some(NOW - 25),
        ..QuestionQuery::default()
    };
    assert_eq!(
        ids(&store.questions("hotel", &recent).await.unwrap()),
        ["a2"]
    );
    let one = QuestionQuery {
        limit: 1,
        ..QuestionQuery::default()
    };
    assert_eq!(ids(&store.questions("hotel", &one).await.unwrap()), ["a2"]);

    let taken = store
        .record_answer("hotel", record("a1", "Again?", false, NOW))
        .await;
    assert!(taken.is_err(), "an answer id is logged once");
    let unknown = store
        .record_answer("nowhere", record("x", "Hello?", false, NOW))
        .await;
    assert!(matches!(unknown, Err(StoreError::CollectionNotFound(_))));
    let bad_id = store
        .record_answer("hotel", record("no spaces", "Hello?", false, NOW))
        .await;
    assert!(matches!(bad_id, Err(StoreError::Invalid(_))));
    let too_many = QuestionQuery {
        limit: 0,
        ..QuestionQuery::default()
    };
    assert!(matches!(
        store.questions("hotel", &too_many).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn feedback_is_recorded_and_replaced(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", 4, IndexKind::Exact).await;
    create(&store, "spa", 4, IndexKind::Exact).await;
    store
        .record_answer("hotel", record("a1", "When is breakfast?", false, NOW))
        .await
        .unwrap();
    let down = Feedback {
        rating: Rating::Down,
        comment: Some("It was 6:30 today".into()),
        rated_at: NOW + 5,
    };
    store
        .record_feedback("hotel", "a1", down.clone())
        .await
        .unwrap();
    let logged = store
        .questions("hotel", &QuestionQuery::default())
        .await
        .unwrap();
    assert_eq!(logged[0].feedback.as_ref(), Some(&down));

    let down_voted = QuestionQuery {
        rating: Some(Rating::Down),
        ..QuestionQuery::default()
    };
    assert_eq!(
        store.questions("hotel", &down_voted).await.unwrap().len(),
        1
    );

    let up = Feedback {
        rating: Rating::Up,
        comment: None,
        rated_at: NOW + 9,
    };
    store
        .record_feedback("hotel", "a1", up.clone())
        .await
        .unwrap();
    let logged = store
        .questions("hotel", &QuestionQuery::default())
        .await
        .unwrap();
    assert_eq!(logged[0].feedback.as_ref(), Some(&up));
    assert!(
        store
            .questions("hotel", &down_voted)
            .await
            .unwrap()
            .is_empty()
    );

    let unknown = store.record_feedback("hotel", "nope", up.clone()).await;
    assert!(matches!(
        unknown,
        Err(StoreError::AnswerNotFound { collection, answer }) if collection == "hotel" && answer == "nope"
    ));
    // An answer is only found in the collection that gave it.
    let elsewhere = store.record_feedback("spa", "a1", up.clone()).await;
    assert!(matches!(elsewhere, Err(StoreError::AnswerNotFound { .. })));
    let long = Feedback {
        comment: Some("x".repeat(bellhop_store::MAX_FEEDBACK_COMMENT_CHARS + 1)),
        ..up
    };
    assert!(matches!(
        store.record_feedback("hotel", "a1", long).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn expired_answers_are_deleted_by_each_collections_retention(backend: Backend) {
    let store = backend.store().await;
    // The default of 30 days, and a collection that keeps its log for 7.
    create(&store, "hotel", 4, IndexKind::Exact).await;
    let mut spec = CollectionSpec::new("spa", "synthetic", 4);
    spec.question_retention_days = Some(7);
    store.create_collection(spec).await.unwrap();
    for (collection, id, age_days) in [
        ("hotel", "h-old", 31),
        ("hotel", "h-mid", 10),
        ("hotel", "h-new", 1),
        ("spa", "s-mid", 10),
        ("spa", "s-new", 1),
    ] {
        store
            .record_answer(
                collection,
                record(id, "Question?", false, NOW - age_days * DAY),
            )
            .await
            .unwrap();
    }
    assert_eq!(store.delete_expired_answers(NOW).await.unwrap(), 2);
    let hotel = store
        .questions("hotel", &QuestionQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&hotel), ["h-new", "h-mid"]);
    let spa = store
        .questions("spa", &QuestionQuery::default())
        .await
        .unwrap();
    assert_eq!(ids(&spa), ["s-new"]);
    assert_eq!(store.delete_expired_answers(NOW).await.unwrap(), 0);

    let mut forever = CollectionSpec::new("bar", "synthetic", 4);
    forever.question_retention_days = Some(0);
    assert!(matches!(
        store.create_collection(forever).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_deleted_collection_takes_its_log_with_it(backend: Backend) {
    let store = backend.store().await;
    create(&store, "hotel", 4, IndexKind::Exact).await;
    store
        .record_answer("hotel", record("a1", "When is breakfast?", false, NOW))
        .await
        .unwrap();
    store.delete_collection("hotel").await.unwrap();
    create(&store, "hotel", 4, IndexKind::Exact).await;
    assert!(
        store
            .questions("hotel", &QuestionQuery::default())
            .await
            .unwrap()
            .is_empty()
    );
    // The id is free again with its old row gone.
    store
        .record_answer("hotel", record("a1", "When is breakfast?", false, NOW))
        .await
        .unwrap();
}

backend_tests!(
    answers_are_logged_and_listed_newest_first,
    feedback_is_recorded_and_replaced,
    expired_answers_are_deleted_by_each_collections_retention,
    a_deleted_collection_takes_its_log_with_it,
);
