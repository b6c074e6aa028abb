//! The store's integration tests, linked into one binary (the crash test stays its own
//! binary because it re-runs itself as the writer it kills). Tests that take a [`Backend`]
//! run twice, against the embedded store and against a real PostgreSQL with pgvector.

#[path = "../common/mod.rs"]
mod common;

/// Runs each listed `async fn name(backend: Backend)` as two tests, `embedded::name` and
/// `postgres::name`.
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::common::Backend::Embedded).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name(crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}

mod concurrency;
mod conversations;
mod postgres;
mod search;
mod store;
