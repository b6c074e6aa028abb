//! Isolation between keys, tried at random: keys of every role with random scopes, every
//! route on every collection (and one that does not exist), in a random order. A request
//! succeeds exactly when the key's role and scope allow it; refused, it gets the same answer
//! whether the collection exists or not; and no key ever reaches the server's logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use bellhop_server::ServerConfig;
use bellhop_server::auth::hash_key;
use bellhop_server::config::{ApiKeyConfig, RateLimit, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{HOTEL, TestServer, assert_error, read};

/// Everything the server logs while this binary runs, at every level of its own crates.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "bellhop_server=trace,bellhop_answer=trace,bellhop_store=trace,bellhop_ingest=trace,tower_http=trace",
            ))
            .with_ansi(false)
            .with_writer(move || Captured(Arc::clone(&sink)))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber");
        logs
    }))
}

struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A small deterministic generator, seeded per run and printed so that a failure replays.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Needs {
    /// Admin keys only.
    Admin,
    /// Admin and query keys in scope.
    Read,
    /// Any key in scope, widget keys included.
    Answers,
}

struct Route {
    method: Method,
    /// `{c}` is the collection.
    path: &'static str,
    body: Option<Value>,
    needs: Needs,
    /// What an allowed request on an existing collection answers.
    allowed: &'static [u16],
    /// The refusal: status and code.
    refused: (u16, &'static str),
}

fn routes() -> Vec<Route> {
    let forbidden = (403, "forbidden");
    let route = |method, path, body, needs, allowed: &'static [u16]| Route {
        method,
        path,
        body,
        needs,
        allowed,
        refused: forbidden,
    };
    vec![
        route(
            Method::GET,
            "/v1/collections/{c}",
            None,
            Needs::Read,
            &[200],
        ),
        route(
            Method::PATCH,
            "/v1/collections/{c}",
            Some(json!({})),
            Needs::Admin,
            &[200],
        ),
        route(
            Method::POST,
            "/v1/collections/{c}/documents",
            Some(json!({"documents": [{"id": "iso", "text": "The terrace opens at noon."}]})),
            Needs::Admin,
            &[200],
        ),
        route(
            Method::GET,
            "/v1/collections/{c}/documents",
            None,
            Needs::Admin,
            &[200],
        ),
        route(
            Method::GET,
            "/v1/collections/{c}/documents/pool",
            None,
            Needs::Admin,
            &[200],
        ),
        route(
            Method::DELETE,
            "/v1/collections/{c}/documents/absent",
            None,
            Needs::Admin,
            &[200, 404],
        ),
        route(
            Method::POST,
            "/v1/collections/{c}/search",
            Some(json!({"query": "pool"})),
            Needs::Read,
            &[200],
        ),
        route(
            Method::POST,
            "/v1/collections/{c}/ask",
            Some(json!({"question": "Is the pool heated?"})),
            Needs::Answers,
            &[200],
        ),
        route(
            Method::POST,
            "/v1/collections/{c}/feedback",
            Some(json!({"answer_id": "no-such-answer", "rating": "up"})),
            Needs::Answers,
            &[404],
        ),
        route(
            Method::GET,
            "/v1/collections/{c}/questions",
            None,
            Needs::Admin,
            &[200],
        ),
        route(
            Method::GET,
            "/v1/collections/{c}/insights",
            None,
            Needs::Admin,
            &[200],
        ),
        Route {
            method: Method::POST,
            path: "/v1/chat/completions",
            body: Some(
                json!({"model": "{c}", "messages": [{"role": "user", "content": "Is the pool heated?"}]}),
            ),
            needs: Needs::Answers,
            allowed: &[200],
            // OpenAI's answer for a model the key may not use.
            refused: (404, "model_not_found"),
        },
    ]
}

struct Key {
    secret: String,
    role: Role,
    /// Empty for admins, who may use every collection.
    scope: Vec<String>,
}

impl Key {
    fn allows(&self, needs: Needs, collection: &str) -> bool {
        let role = matches!(
            (self.role, needs),
            (Role::Admin, _)
                | (Role::Query, Needs::Read | Needs::Answers)
                | (Role::Widget, Needs::Answers)
        );
        role && (self.role == Role::Admin || self.scope.iter().any(|c| c == collection))
    }
}

async fn call(server: &TestServer, key: &Key, route: &Route, collection: &str) -> (u16, Value) {
    let path = route.path.replace("{c}", collection);
    let mut request = server
        .client
        .request(route.method.clone(), server.url(&path))
        .bearer_auth(&key.secret);
    if let Some(body) = &route.body {
        let body = body.to_string().replace("{c}", collection);
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    read(request.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn every_key_on_every_route_and_collection_gets_exactly_what_its_scope_allows() {
    let logs = captured_logs();
    let seed = std::env::var("BELLHOP_ISOLATION_SEED")
        .ok()
        .and_then(|seed| seed.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("isolation seed {seed} (BELLHOP_ISOLATION_SEED replays it)");
    let mut dice = Dice(seed);

    let existing = ["lobby", "spa", "roof"];
    let ghost = "cellar";
    let names: Vec<&str> = existing.iter().copied().chain([ghost]).collect();
    let scope = |dice: &mut Dice| -> Vec<String> {
        let mut chosen: Vec<String> = names
            .iter()
            .filter(|_| dice.below(2) == 0)
            .map(|name| name.to_string())
            .collect();
        if chosen.is_empty() {
            chosen.push(names[dice.below(names.len())].to_string());
        }
        chosen
    };
    let mut keys = vec![Key {
        secret: format!("admin-{:016x}", dice.next()),
        role: Role::Admin,
        scope: Vec::new(),
    }];
    for role in [Role::Query, Role::Query, Role::Widget, Role::Widget] {
        keys.push(Key {
            secret: format!("{:016x}{:016x}", dice.next(), dice.next()),
            role,
            scope: scope(&mut dice),
        });
    }
    let config = ServerConfig {
        keys: keys
            .iter()
            .enumerate()
            .map(|(i, key)| ApiKeyConfig {
                name: format!("key-{i}"),
                sha256: hash_key(&key.secret),
                role: key.role,
                collections: key.scope.clone(),
                allowed_origins: Vec::new(),
                // Many requests from one address: the bucket must not be what refuses them.
                rate_limit: Some(RateLimit {
                    per_minute: 100_000,
                    burst: 100_000,
                }),
            })
            .collect(),
        ..ServerConfig::default()
    };
    let server = TestServer::with_config(config).await;
    let admin = &keys[0];
    let documents: Vec<Value> = HOTEL
        .iter()
        .map(|(id, title, text)| json!({"id": id, "title": title, "text": text}))
        .collect();
    for name in existing {
        let create = Route {
            method: Method::POST,
            path: "/v1/collections",
            body: Some(json!({"name": name})),
            needs: Needs::Admin,
            allowed: &[201],
            refused: (403, "forbidden"),
        };
        assert_eq!(call(&server, admin, &create, name).await.0, 201);
        let add = Route {
            body: Some(json!({"documents": documents})),
            path: "/v1/collections/{c}/documents",
            ..create
        };
        assert_eq!(call(&server, admin, &add, name).await.0, 200);
    }

    let routes = routes();
    let mut cases: Vec<(usize, usize, &str)> = Vec::new();
    for key in 0..keys.len() {
        for route in 0..routes.len() {
            for &name in &names {
                cases.push((key, route, name));
            }
        }
    }
    dice.shuffle(&mut cases);
    let mut refusals: std::collections::HashMap<(usize, usize, &str), Value> = Default::default();
    for &(k, r, name) in &cases {
        let (key, route) = (&keys[k], &routes[r]);
        let (status, body) = call(&server, key, route, name).await;
        let what = format!(
            "seed {seed}: {:?} key with scope {:?}, {} {} on {name}",
            key.role, key.scope, route.method, route.path
        );
        if key.allows(route.needs, name) {
            if name == ghost {
                assert_eq!(status, 404, "{what}: {body}");
            } else {
                assert!(route.allowed.contains(&status), "{what}: {status} {body}");
            }
        } else {
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (route.refused.0, Some(route.refused.1)),
                "{what}: {body}"
            );
            let message = body["error"]["message"]
                .as_str()
                .unwrap()
                .replace(&format!("{name:?}"), "\"X\"");
            refusals.insert((k, r, name), json!(message));
        }
    }
    // A refusal says nothing about whether the collection exists.
    for (&(k, r, name), message) in &refusals {
        if name == ghost {
            continue;
        }
        if let Some(ghost_message) = refusals.get(&(k, r, ghost)) {
            assert_eq!(
                message, ghost_message,
                "seed {seed}: key {k} route {r}: {name} and {ghost}"
            );
        }
    }

    // Listings show each key exactly the existing collections in its scope; widget keys
    // none.
    for key in &keys {
        let visible: Vec<&str> = existing
            .iter()
            .copied()
            .filter(|name| key.role == Role::Admin || key.scope.iter().any(|c| c == name))
            .collect();
        let list = Route {
            method: Method::GET,
            path: "/v1/collections",
            body: None,
            needs: Needs::Answers,
            allowed: &[200],
            refused: (403, "forbidden"),
        };
        let (status, body) = call(&server, key, &list, "").await;
        // A widget key may not list collections at all: it asks, chats and rates answers.
        if key.role == Role::Widget {
            assert_error(status, &body, 403, "forbidden");
            continue;
        }
        assert_eq!(status, 200, "{body}");
        let mut listed: Vec<&str> = body["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|info| info["name"].as_str().unwrap())
            .collect();
        listed.sort_unstable();
        let mut expected = visible.clone();
        expected.sort_unstable();
        assert_eq!(
            listed, expected,
            "seed {seed}: {:?} {:?}",
            key.role, key.scope
        );
        let models = Route {
            path: "/v1/models",
            ..list
        };
        let (status, body) = call(&server, key, &models, "").await;
        assert_eq!(status, 200, "{body}");
        for name in existing {
            let shown = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|model| model["id"] == name);
            assert_eq!(
                shown,
                visible.contains(&name),
                "seed {seed}: {name} in {body}"
            );
        }
    }

    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(
        logs.contains("/v1/collections/spa/search"),
        "the server's request logs were captured"
    );
    for key in &keys {
        assert!(
            !logs.contains(&key.secret),
            "seed {seed}: a {:?} key appears in the logs",
            key.role
        );
    }
}
