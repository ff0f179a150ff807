//! The memory budget: idle models are closed least recently used first; models in use never are.
//! Its own test binary, since the budget is process-wide.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

mod common;

use common::{scratch, variant, ONE};
use sparkort::model_node;

#[test]
fn least_recently_used_idle_model_is_closed_to_make_room() {
    let dir = scratch("eviction");
    let [a, b, c] = [1, 2, 3].map(|tag| variant("mlp", tag, &dir).to_str().expect("path").to_string());
    let size = std::fs::metadata(&a).expect("file").len();
    model_node::set_memory_budget(2 * size);
    let open = |path: &str| model_node::open(path, ONE).expect("open");

    drop(open(&a));
    drop(open(&b));
    drop(open(&a)); // a is now more recently used than b
    assert_eq!(model_node::open_models(), 2);
    drop(open(&c));
    assert_eq!(model_node::open_models(), 2, "one model closed to make room");
    assert!(open(&a).loaded_nanos.is_none(), "a was used recently and stays");
    let b_again = open(&b);
    assert!(b_again.loaded_nanos.is_some(), "b was least recently used and was closed");
    assert_eq!(b_again.model.stats().loads, 2);
    // Loading b closed c, used less recently than a.
    assert_eq!(model_node::open_models(), 2);

    // A model held by a task is never closed, even over budget; idle ones are.
    model_node::set_memory_budget(size);
    let c_again = open(&c);
    assert_eq!(c_again.model.stats().loads, 2, "c was loaded again");
    assert_eq!(model_node::open_models(), 2, "a (idle) was closed, b (held) stayed");
    assert!(open(&b).loaded_nanos.is_none(), "b is still open");
    drop((b_again, c_again));
    assert_eq!(open(&a).model.stats().loads, 2, "a was loaded again");
    model_node::set_memory_budget(u64::MAX);
}
