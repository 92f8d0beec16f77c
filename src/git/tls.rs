//! libgit2's TLS set-up, deferred until a network operation needs it.
//!
//! With OpenSSL linked in, libgit2's start-up builds its TLS context and reads the whole system CA
//! bundle (about 30 ms, paid by `check` and `render` although only `--push` talks to a remote). The
//! binary calls [`start_without_ca`] first thing: libgit2 starts with an empty CA file, and the bundle
//! found then is handed to libgit2 by [`before_network`], which every network operation calls first.
//! A program that never calls [`start_without_ca`] keeps libgit2's default behaviour.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use crate::error::Result;

/// Where the CA certificates are, found before libgit2 started without them; `None` unless
/// [`start_without_ca`] ran.
static DEFERRED: OnceLock<CaLocations> = OnceLock::new();
static LOADED: Mutex<bool> = Mutex::new(false);

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaLocations {
    pub file: Option<PathBuf>,
    pub dir: Option<PathBuf>,
}

/// Starts libgit2 without reading the CA bundle, and remembers where the bundle is. Call it before
/// any other thread starts and before any other use of git2: it changes the process environment for
/// the moment libgit2 starts, and puts it back.
#[cfg(all(unix, not(target_os = "macos")))]
pub fn start_without_ca() {
    const VAR: &str = "SSL_CERT_FILE";
    if DEFERRED.get().is_some() {
        return;
    }
    let found = openssl_probe::probe();
    let saved = std::env::var_os(VAR);
    std::env::set_var(VAR, "/dev/null");
    // Any git2 call starts libgit2; hashing an empty blob touches nothing else.
    let _ = git2::Oid::hash_object(git2::ObjectType::Blob, b"");
    match saved {
        Some(v) => std::env::set_var(VAR, v),
        None => std::env::remove_var(VAR),
    }
    let _ = DEFERRED.set(CaLocations {
        file: found.cert_file,
        dir: found.cert_dir,
    });
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
pub fn start_without_ca() {}

/// The CA locations waiting to be loaded, if libgit2 was started without them.
pub fn deferred() -> Option<&'static CaLocations> {
    DEFERRED.get()
}

/// Hands libgit2 the CA bundle that [`start_without_ca`] held back (once; nothing when it did not run).
pub fn before_network() -> Result<()> {
    let Some(ca) = DEFERRED.get() else {
        return Ok(());
    };
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if *loaded {
        return Ok(());
    }
    // SAFETY: git2 marks these unsafe because they change libgit2's global TLS settings; no network
    // operation runs while they do (this is called before the first one, under a lock).
    unsafe {
        if let Some(file) = &ca.file {
            git2::opts::set_ssl_cert_file(file)
                .map_err(|e| super::git_error("cannot load the CA certificates", e))?;
        }
        if let Some(dir) = &ca.dir {
            git2::opts::set_ssl_cert_dir(dir)
                .map_err(|e| super::git_error("cannot load the CA certificates", e))?;
        }
    }
    *loaded = true;
    Ok(())
}
