//! The environment's shared state: what the runtime and each extension are doing right now.
//!
//! API handlers (one task per request) change it under a mutex and bump a `watch` counter; the
//! lifecycle controller waits on that counter for the conditions it needs (runtime back on `next`, every
//! extension back on `next`, a response posted, a process gone). Long polls park a `oneshot` sender here.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use bytes::Bytes;
use lambdascope_wire::extensions_api::{EventType, NextEvent};
use tokio::sync::{oneshot, watch};

/// An invocation as the runtime receives it from `next`.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub request_id: String,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: Option<String>,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub payload: Bytes,
}

/// An error the runtime or an extension posted.
#[derive(Debug, Clone)]
pub(crate) struct PostedError {
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// What the runtime answered for the current request.
#[derive(Debug, Clone)]
pub(crate) enum RuntimeAnswer {
    Response(Bytes),
    Error(PostedError),
    TooLarge,
}

#[derive(Debug, Default)]
pub(crate) struct RuntimeSlot {
    pub waiter: Option<oneshot::Sender<Invocation>>,
    pub next_calls: u64,
    pub init_error: Option<PostedError>,
    pub current: Option<String>,
    pub answer: Option<RuntimeAnswer>,
    /// When the runtime started sending and finished sending its answer.
    pub answer_started: Option<Instant>,
    pub answer_done: Option<Instant>,
    pub last_next: Option<Instant>,
    /// Set by the process watcher: a description like `exit status 1` or `signal: killed`.
    pub exited: Option<String>,
}

#[derive(Debug)]
pub(crate) struct ExtensionSlot {
    pub id: String,
    pub name: String,
    pub events: Vec<EventType>,
    pub external: bool,
    pub waiter: Option<oneshot::Sender<NextEvent>>,
    /// An event to hand over at the next `next` (SHUTDOWN sent while the extension was busy).
    pub pending: Option<NextEvent>,
    pub next_calls: u64,
    pub last_next: Option<Instant>,
    /// `Extension.InitError` / `Extension.ExitError` type the extension posted.
    pub error: Option<String>,
}

impl ExtensionSlot {
    pub fn wants(&self, event: EventType) -> bool {
        self.events.contains(&event)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Init in progress: registration open until the runtime's first `next`.
    Init,
    Ready,
    Invoking,
    ShuttingDown,
}

#[derive(Debug)]
pub(crate) struct Inner {
    /// Bumped at each (re-)init so that watchers of an old environment's processes change nothing.
    pub generation: u64,
    pub phase: Phase,
    pub registration_open: bool,
    pub runtime: RuntimeSlot,
    pub extensions: Vec<ExtensionSlot>,
    /// External extensions launched from `/opt/extensions` (by name) and their exits.
    pub launched: Vec<String>,
    /// Extension processes of this environment that exited: pid and how.
    pub exited_pids: Vec<(i32, String)>,
    pub answered: HashSet<String>,
}

pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    changed: watch::Sender<u64>,
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    pub account_id: String,
}

impl Shared {
    pub fn new(function_name: String, handler: String, account_id: String) -> Shared {
        Shared {
            inner: Mutex::new(Inner {
                generation: 0,
                phase: Phase::Init,
                registration_open: true,
                runtime: RuntimeSlot::default(),
                extensions: Vec::new(),
                launched: Vec::new(),
                exited_pids: Vec::new(),
                answered: HashSet::new(),
            }),
            changed: watch::channel(0).0,
            function_name,
            function_version: "$LATEST".to_string(),
            handler,
            account_id,
        }
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the lifecycle controller.
    pub fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Waits until `cond` holds or `deadline` passes; returns the final value of `cond`.
    pub async fn wait_until<T>(
        &self,
        deadline: tokio::time::Instant,
        mut cond: impl FnMut(&mut Inner) -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(v) = cond(&mut self.lock()) {
                return Some(v);
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                return cond(&mut self.lock());
            }
        }
    }
}
