//! Serving an installation: what `zhengyin serve` runs, and what the end-to-end tests start, so
//! that both run the same start-up — the installation opened (initialised on first run), the
//! background tasks, and the HTTP server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::service::{App, Config, FirstRun, ServiceError};

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The installation could not be opened or initialised.
    #[error("{0}")]
    Open(#[from] ServiceError),
    /// The listening address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: String,
        /// Why binding failed.
        source: std::io::Error,
    },
}

/// A serving installation.
pub struct Running {
    /// The application behind the server.
    pub app: Arc<App>,
    /// What opening it created (the admin key on first run).
    pub first_run: FirstRun,
    /// The address it listens on (the port chosen, when `:0` was asked for).
    pub address: SocketAddr,
    served: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Waits until the server stops (after `shutdown` completes); its error, if it failed.
    pub async fn stopped(self) -> std::io::Result<()> {
        let result = match self.served.await {
            Ok(result) => result,
            Err(join) => Err(std::io::Error::other(join)),
        };
        self.app.close().await;
        result
    }
}

/// Binds the address `zhengyin serve --listen` names (`127.0.0.1:0` picks a free port).
pub async fn bind(listen: &str) -> Result<TcpListener, StartError> {
    TcpListener::bind(listen)
        .await
        .map_err(|source| StartError::Listen {
            address: listen.to_string(),
            source,
        })
}

/// Opens the installation `config` describes, starts its background tasks (the expiry sweep,
/// the tree-head signer and the licence-change watch) and serves its HTTP API on `listener`
/// until `shutdown` completes.
pub async fn start(
    config: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let address = listener.local_addr().map_err(|source| StartError::Listen {
        address: "the bound socket".into(),
        source,
    })?;
    let (app, first_run) = App::open(config).await?;
    app.spawn_expiry_sweep();
    app.spawn_tree_head_signer();
    app.spawn_licence_watch();
    let router = crate::http::router(Arc::clone(&app));
    let served = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
    });
    Ok(Running {
        app,
        first_run,
        address,
        served,
    })
}
