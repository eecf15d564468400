//! Embeds the WebUI: every file of `../webui/index.html` and `../webui/assets/` becomes a
//! static byte slice in the lqosd binary (nothing is read from disk or the Internet at run
//! time).

use anyhow::Context;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../webui");
    let root = root
        .canonicalize()
        .with_context(|| format!("the WebUI sources are missing: {}", root.display()))?;
    println!(
        "cargo:rerun-if-changed={}",
        root.join("index.html").display()
    );
    println!("cargo:rerun-if-changed={}", root.join("assets").display());
    let mut all = vec![root.join("index.html")];
    files(&root.join("assets"), &mut all)?;
    all.sort();
    let mut code = String::from(
        "/// (path under the site root, bytes)\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for f in &all {
        let rel = f
            .strip_prefix(&root)
            .context("an asset outside webui/")?
            .to_str()
            .context("an asset path that is not UTF-8")?;
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            f.display().to_string()
        )?;
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("webui_assets.rs");
    std::fs::write(&out, code).with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}
