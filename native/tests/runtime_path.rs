//! A bad ONNX Runtime library path says which path and why; the process can still load a good one
//! afterwards. Its own test binary, since the runtime is process-wide.

#![allow(clippy::expect_used, clippy::unwrap_used)] // a test crate: a failed expectation is a failed test

use std::path::{Path, PathBuf};

use sparkort::{runtime, Error};

fn refused(path: &Path) -> String {
    match runtime::init(path) {
        Err(e @ Error::Runtime { .. }) => {
            assert_eq!(e.java_class(), "io/sparkort/NativeLibraryException");
            e.to_string()
        }
        other => panic!("{} must be refused, got {other:?}", path.display()),
    }
}

#[test]
fn bad_library_paths_name_the_path_and_the_reason() {
    let dir = std::env::temp_dir().join(format!("sparkort-runtime-path-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("libonnxruntime.so.404");
    let message = refused(&missing);
    assert!(message.contains(&missing.display().to_string()), "{message}");
    assert!(message.contains("No such file"), "{message}");

    let message = refused(&dir);
    assert!(message.contains("not a file") || message.contains("directory"), "{message}");

    let text = dir.join("libonnxruntime.so.text");
    std::fs::write(&text, "not a shared library\n").unwrap();
    let message = refused(&text);
    assert!(message.contains(&text.display().to_string()), "{message}");
    assert!(message.contains("invalid ELF header") || message.contains("too short"), "{message}");

    // A real shared library that is not ONNX Runtime: this crate's test binary links libc.
    let libc = ["/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib/x86_64-linux-gnu/libm.so.6", "/lib64/libm.so.6"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file());
    if let Some(libm) = libc {
        let message = refused(&libm);
        assert!(message.contains("not an ONNX Runtime library"), "{message}");
    }

    let library = std::env::var("SPARKORT_ORT_LIBRARY").expect("SPARKORT_ORT_LIBRARY names libonnxruntime.so");
    runtime::init(Path::new(&library)).expect("the right library still loads after refused ones");
    std::fs::remove_dir_all(&dir).ok();
}
