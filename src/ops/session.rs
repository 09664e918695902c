//! The run session: what one invocation works with, made once from the checked command line
//! (the catalog, found when first needed; the engine; the registry, parsed once; each
//! registry's login, decided once; the registry deadline; the output, through which commands
//! and operations print).

use std::cell::OnceCell;
use std::path::PathBuf;
use std::time::Duration;

use crate::catalog::{self, Catalog};
use crate::engine::{Docker, PushRetries, PushWith};
use crate::error::Result;
use crate::oci_labels::Provenance;
use crate::output::Output;
use crate::registry::{self, Registry, SignIns};

/// What every command and operation of one run works with. The catalog is looked for when a command first needs it, so
/// that the commands that need none (`tags`) work anywhere.
pub struct Session {
    /// Where the run's messages, data and `debug:` lines go (`--debug`).
    pub out: Output,
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
    /// Keep the builds' layer cache in the registry (`--registry-cache`).
    pub registry_cache: bool,
    provenance: OnceCell<Provenance>,
    /// Which way local images are pushed (`--push-with`).
    pub push_with: PushWith,
}

impl Session {
    pub fn new(
        out: Output,
        images_dir: Option<PathBuf>,
        docker: Docker,
        registry: Option<String>,
        registry_timeout: Duration,
        offline: bool,
        registry_cache: bool,
    ) -> Self {
        Self {
            out,
            images_dir,
            catalog: OnceCell::new(),
            docker,
            registry: Registry::resolve(registry.as_deref()),
            sign_ins: SignIns::default(),
            registry_timeout,
            offline,
            registry_cache,
            provenance: OnceCell::new(),
            push_with: PushWith::default(),
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

    /// What git says of the catalog's repository (asked once), for the OCI labels.
    pub fn provenance(&self) -> Result<&Provenance> {
        if let Some(provenance) = self.provenance.get() {
            return Ok(provenance);
        }
        let root = self.catalog()?.repository_root();
        Ok(self
            .provenance
            .get_or_init(|| crate::git::provenance(&root)))
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

    /// The registry that keeps the layer cache: None without `--registry-cache`, bad input
    /// naming `--registry` when there is none.
    pub fn cache_registry(&self) -> Result<Option<Registry>> {
        if !self.registry_cache {
            return Ok(None);
        }
        match self.registry() {
            Ok(registry) => Ok(Some(registry.clone())),
            Err(crate::registry::Error::Missing) => Err(crate::error::Error::CacheWithoutRegistry),
            Err(invalid) => Err(invalid.into()),
        }
    }

    /// How often and how long a failing `docker push` is tried: within ten registry timeouts.
    pub fn push_retries(&self) -> PushRetries {
        PushRetries::within(self.registry_timeout.saturating_mul(10))
    }
}
