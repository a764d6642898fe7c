//! Finding the master key: `TESSERA_MASTER_KEY` / `[keys] master_key`, or
//! the file named by `[keys] master_key_file`.

use crate::config::Config;
use std::path::Path;
use tessera_token::MasterKey;

pub fn load_master_key(config: &Config) -> Result<MasterKey, String> {
    if let Some(encoded) = &config.keys.master_key {
        return MasterKey::from_base64(encoded).map_err(|e| format!("keys.master_key (TESSERA_MASTER_KEY): {e}"));
    }
    let Some(path) = config.keys.master_key_file.as_ref().filter(|p| p.exists()) else {
        let missing = config
            .keys
            .master_key_file
            .as_ref()
            .map(|p| format!(" ({} does not exist)", p.display()))
            .unwrap_or_default();
        return Err(format!(
            "no master key{missing}: set TESSERA_MASTER_KEY (base64 of 32 random bytes, e.g. \
             `openssl rand -base64 32`) or point [keys] master_key_file at a file holding one"
        ));
    };
    read_key_file(path)
}

pub fn read_key_file(path: &Path) -> Result<MasterKey, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("keys.master_key_file {}: {e}", path.display()))?,
    );
    MasterKey::from_base64(&text).map_err(|e| format!("keys.master_key_file {}: {e}", path.display()))
}

/// Writes a new key file readable by the owner only; refuses to overwrite.
pub fn create_key_file(path: &Path) -> Result<MasterKey, String> {
    let key = MasterKey::generate().map_err(|e| e.to_string())?;
    let line = zeroize::Zeroizing::new(format!("{}\n", key.to_base64().as_str()));
    write_private_file(path, line.as_bytes())?;
    Ok(key)
}

/// Creates `path` with mode 0600 (parents as needed); fails if it exists.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), String> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(contents).map_err(|e| format!("{}: {e}", path.display()))
}
