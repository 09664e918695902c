//! The run session: what one invocation works with, made once from the checked command line
//! (the catalog, found when first needed; the engine; the registry, parsed once; each
//! registry's login, decided once; the registry deadline).

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::{self, Catalog};
use crate::engine::{Docker, PushRetries};
use crate::error::Result;
use crate::registry::{self, Registry, SignIns};

/// What every command and operation of one run works with. The catalog is looked for when a command first needs it, so
/// that the commands that need none (`tags`) work anywhere.
pub struct Session {
    images_dir: Option<PathBuf>,
    catalog: OnceCell<Catalog>,
    pub docker: Docker,
    /// The registry of `--registry`, else `DAGSTER_IMAGE_REGISTRY`, else `AWS_ACCOUNT_ID`'s ECR,
    /// parsed once; its error only stops the commands that need a registry.
    registry: std::result::Result<Registry, registry::Error>,
    /// The login of each registry, decided the first time an operation needs it.
    pub sign_ins: SignIns,
    /// How long one registry operation may take, its retries included.
    pub registry_timeout: Duration,
    /// Ask no registry about upstream images, nor whether images are pushed.
    pub offline: bool,
}

impl Session {
    pub fn new(
        images_dir: Option<PathBuf>,
        docker: Docker,
        registry: Option<String>,
        registry_timeout: Duration,
        offline: bool,
    ) -> Self {
        Self {
            images_dir,
            catalog: OnceCell::new(),
            docker,
            registry: Registry::resolve(registry.as_deref()),
            sign_ins: SignIns::default(),
            registry_timeout,
            offline,
        }
    }

    /// The catalog: `--images-dir`, else `./images`, else the seed's layout under the git root.
    pub fn catalog(&self) -> Result<&Catalog> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog);
        }
        let cwd = std::env::current_dir().map_err(catalog::Error::Io)?;
        let found = Catalog::locate(self.images_dir.as_deref(), &cwd)?;
        Ok(self.catalog.get_or_init(|| found))
    }

    /// The registry to push to; an error only for commands that need one.
    pub fn registry(&self) -> std::result::Result<&Registry, registry::Error> {
        self.registry.as_ref().map_err(Clone::clone)
    }

    /// The registry as a plan takes it, for its `source: aws` bases: its address, or why there
    /// is none.
    pub fn registry_address(&self) -> crate::plan::RegistryAddress {
        self.registry()
            .map(|registry| registry.to_string())
            .map_err(Into::into)
    }

    /// How often and how long a failing `docker push` is tried: within ten registry timeouts.
    pub fn push_retries(&self) -> PushRetries {
        PushRetries::within(self.registry_timeout.saturating_mul(10))
    }
}
