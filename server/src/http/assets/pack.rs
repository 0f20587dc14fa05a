//! The module pack: the client's ES modules in one content-hashed script, so a first
//! visit costs two round trips (page, then script and stylesheet) instead of one per
//! level of the import graph, each level waiting for the one before.
//!
//! Nothing is transformed but import specifiers. The pack keeps every module's source
//! as a string, dependencies first; in the browser each becomes a `blob:` URL, its
//! specifiers replaced by the `blob:` URLs of the modules it imports (made before it),
//! and then the entry module is imported. The server rewrites the specifiers of
//! `import … from '…'`, `export … from '…'`, `import '…'` and `import('…')` that name
//! a module of the folder to a token (`@mentorhub/js/dom.js@`) the pack replaces:
//! a `blob:` URL cannot be the base of a relative one. Specifiers must therefore be
//! string literals (a computed `import()` path is not packed), and the import graph
//! must have no cycle (else the folder is served unpacked). No import map and no
//! inline script: the Content-Security-Policy only has to allow `blob:` scripts.
//!
//! Why not a bundler: the maintained Rust ones (swc, rolldown) add well over a hundred
//! crates to the build, and this way what runs is exactly the source that was written.
//!
//! The page is rewritten to load the pack instead of the entry module, to refer to the
//! content-hashed names of the files it links (`/css/app.css` → `/css/app.<hash>.css`),
//! and to carry the server's public info, saving the `/api/info` round trip.

use std::collections::{BTreeMap, VecDeque};

use sha2::{Digest, Sha256};

/// A packed module's specifier is `@mentorhub<path>@`: unique, and replaced whole.
const NAME_PREFIX: &str = "@mentorhub";
const NAME_SUFFIX: &str = "@";
const ENTRY_TAG_START: &str = "<script type=\"module\" src=\"";
const ENTRY_TAG_END: &str = "\"></script>";

/// A file the pack adds or replaces.
#[derive(Debug)]
pub struct Derived {
    pub path: String,
    pub body: Vec<u8>,
    /// Its name carries its content hash: cache it forever.
    pub immutable: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PackError {
    #[error("no index.html")]
    NoPage,
    #[error("index.html has no `<script type=\"module\" src=\"…\"></script>` entry")]
    NoEntry,
    #[error("the entry module {0} is not in the folder")]
    MissingEntry(String),
    #[error("{0} is not UTF-8")]
    NotText(String),
    #[error("the modules import each other in a cycle through {0}")]
    Cycle(String),
}

/// The first 16 hex digits of the SHA-256 of `body`: names and entity tags.
pub fn content_hash(body: &[u8]) -> String {
    Sha256::digest(body)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `/css/app.css` → `/css/app.<hash>.css`.
pub fn hashed_name(path: &str, hash: &str) -> String {
    let file_start = path.rfind('/').map_or(0, |i| i + 1);
    match path[file_start..].rfind('.') {
        Some(dot) if dot > 0 => {
            let dot = file_start + dot;
            format!("{}.{hash}{}", &path[..dot], &path[dot..])
        }
        _ => format!("{path}.{hash}"),
    }
}

/// Builds the pack from the folder's files (site path → bytes): the pack script, the
/// hashed aliases of the files the page links, and the rewritten page.
pub fn build(
    files: &BTreeMap<String, Vec<u8>>,
    server_info: &str,
) -> Result<Vec<Derived>, PackError> {
    let page = files.get("/index.html").ok_or(PackError::NoPage)?;
    let page = std::str::from_utf8(page).map_err(|_| PackError::NotText("/index.html".into()))?;
    let (entry_range, entry) = find_entry(page).ok_or(PackError::NoEntry)?;
    if !files.contains_key(&entry) {
        return Err(PackError::MissingEntry(entry));
    }

    let (modules, imports) = collect_modules(files, &entry)?;
    let order = dependencies_first(&entry, &imports)?;
    let script = pack_script(&entry, &order, &modules, &imports);
    let script_path = hashed_name("/js/mentorhub.js", &content_hash(script.as_bytes()));

    let mut derived = Vec::new();
    let mut html = String::with_capacity(page.len() + 256);
    html.push_str(&page[..entry_range.start]);
    html.push_str(&format!("<script src=\"{script_path}\" defer></script>"));
    html.push_str(&page[entry_range.end..]);
    let html = link_hashed(&html, files, &mut derived);
    let html = html.replacen(
        "</head>",
        &format!(
            "  <script type=\"application/json\" id=\"server-info\">{}</script>\n</head>",
            server_info.replace('<', "\\u003c")
        ),
        1,
    );
    derived.push(Derived {
        path: script_path,
        body: script.into_bytes(),
        immutable: true,
    });
    derived.push(Derived {
        path: "/index.html".into(),
        body: html.into_bytes(),
        immutable: false,
    });
    Ok(derived)
}

/// The entry module's tag in the page and its path.
fn find_entry(page: &str) -> Option<(std::ops::Range<usize>, String)> {
    let start = page.find(ENTRY_TAG_START)?;
    let value_start = start + ENTRY_TAG_START.len();
    let value_len = page[value_start..].find('"')?;
    let value_end = value_start + value_len;
    if !page[value_end..].starts_with(ENTRY_TAG_END) {
        return None;
    }
    let path = page[value_start..value_end].to_owned();
    path.starts_with('/')
        .then(|| (start..value_end + ENTRY_TAG_END.len(), path))
}

/// The module name a packed specifier is rewritten to.
fn token(path: &str) -> String {
    format!("{NAME_PREFIX}{path}{NAME_SUFFIX}")
}

type Modules = BTreeMap<String, String>;
type Imports = BTreeMap<String, Vec<String>>;

/// Every module reachable from `entry`, each with its specifiers rewritten, and what
/// each imports.
fn collect_modules(
    files: &BTreeMap<String, Vec<u8>>,
    entry: &str,
) -> Result<(Modules, Imports), PackError> {
    let mut modules = BTreeMap::new();
    let mut imports: Imports = BTreeMap::new();
    let mut queue = VecDeque::from([entry.to_owned()]);
    while let Some(path) = queue.pop_front() {
        if modules.contains_key(&path) {
            continue;
        }
        let source =
            std::str::from_utf8(&files[&path]).map_err(|_| PackError::NotText(path.clone()))?;
        let mut rewritten = String::with_capacity(source.len() + 64);
        let mut copied = 0;
        let mut needs = Vec::new();
        for (range, target) in local_specifiers(source, &path) {
            if !files.contains_key(&target) {
                // Not a file here: a mention in a comment or a string, or a broken
                // import that the browser reports either way. Left as written.
                continue;
            }
            rewritten.push_str(&source[copied..range.start]);
            rewritten.push_str(&token(&target));
            copied = range.end;
            if !needs.contains(&target) {
                needs.push(target.clone());
            }
            if !modules.contains_key(&target) {
                queue.push_back(target);
            }
        }
        rewritten.push_str(&source[copied..]);
        // Devtools and stack traces name the module by its path, not its blob URL.
        rewritten.push_str(&format!("\n//# sourceURL={path}\n"));
        imports.insert(path.clone(), needs);
        modules.insert(path, rewritten);
    }
    Ok((modules, imports))
}

/// The modules in an order where each comes after everything it imports.
fn dependencies_first(entry: &str, imports: &Imports) -> Result<Vec<String>, PackError> {
    fn visit(
        path: &str,
        imports: &Imports,
        done: &mut Vec<String>,
        visiting: &mut Vec<String>,
    ) -> Result<(), PackError> {
        if done.iter().any(|d| d == path) {
            return Ok(());
        }
        if visiting.iter().any(|v| v == path) {
            return Err(PackError::Cycle(path.to_owned()));
        }
        visiting.push(path.to_owned());
        for needed in &imports[path] {
            visit(needed, imports, done, visiting)?;
        }
        visiting.pop();
        done.push(path.to_owned());
        Ok(())
    }
    let mut done = Vec::with_capacity(imports.len());
    visit(entry, imports, &mut done, &mut Vec::new())?;
    Ok(done)
}

/// The specifiers of module imports that name a file of this site (`./`, `../`, `/`),
/// as byte ranges of the specifier text and the site path each resolves to.
fn local_specifiers(source: &str, module_path: &str) -> Vec<(std::ops::Range<usize>, String)> {
    let bytes = source.as_bytes();
    let mut found = Vec::new();
    for keyword in ["from", "import"] {
        let mut at = 0;
        while let Some(offset) = source[at..].find(keyword) {
            let start = at + offset;
            at = start + keyword.len();
            let bounded_before = start == 0 || !is_identifier_byte(bytes[start - 1]);
            let bounded_after = bytes.get(at).is_none_or(|b| !is_identifier_byte(*b));
            if !bounded_before || !bounded_after {
                continue;
            }
            let mut cursor = skip_spaces(bytes, at);
            if keyword == "import" && bytes.get(cursor) == Some(&b'(') {
                cursor = skip_spaces(bytes, cursor + 1);
            }
            let Some(&quote) = bytes.get(cursor).filter(|b| **b == b'\'' || **b == b'"') else {
                continue;
            };
            let value_start = cursor + 1;
            let Some(len) = source[value_start..].find([quote as char, '\n']) else {
                continue;
            };
            let value_end = value_start + len;
            if bytes[value_end] != quote {
                continue;
            }
            if let Some(target) = resolve(module_path, &source[value_start..value_end]) {
                found.push((value_start..value_end, target));
            }
        }
    }
    found.sort_by_key(|(range, _)| range.start);
    found
}

fn is_identifier_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'.'
}

fn skip_spaces(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// The site path a specifier names from `module_path`, if it is a local one.
fn resolve(module_path: &str, specifier: &str) -> Option<String> {
    let relative = specifier.starts_with("./") || specifier.starts_with("../");
    if !relative && !specifier.starts_with('/') {
        return None;
    }
    let mut segments: Vec<&str> = if relative {
        let dir = &module_path[..module_path.rfind('/')?];
        dir.split('/').filter(|s| !s.is_empty()).collect()
    } else {
        Vec::new()
    };
    for segment in specifier.split('/') {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop()?;
            }
            name => segments.push(name),
        }
    }
    Some(format!("/{}", segments.join("/")))
}

/// A classic script: makes each module a `blob:` URL (dependencies first, their
/// tokens replaced by their URLs), then imports the entry.
fn pack_script(entry: &str, order: &[String], modules: &Modules, imports: &Imports) -> String {
    let list: Vec<(String, Vec<String>, &String)> = order
        .iter()
        .map(|path| {
            (
                token(path),
                imports[path].iter().map(|p| token(p)).collect(),
                &modules[path],
            )
        })
        .collect();
    let list = serde_json::to_string(&list).expect("strings serialise");
    let entry = serde_json::to_string(&token(entry)).expect("a string");
    format!(
        "// The Mentorhub web client's {count} modules in one file, packed by the server.\n\
         (() => {{\n\
         \x20 const modules = {list};\n\
         \x20 const urls = {{}};\n\
         \x20 for (const [name, imports, source] of modules) {{\n\
         \x20   let text = source;\n\
         \x20   for (const needed of imports) text = text.split(needed).join(urls[needed]);\n\
         \x20   urls[name] = URL.createObjectURL(new Blob([text], {{ type: 'text/javascript' }}));\n\
         \x20 }}\n\
         \x20 import(urls[{entry}]);\n\
         }})();\n",
        count = modules.len(),
    )
}

/// Points the page's root-relative `href`/`src` links to files of the folder at their
/// hashed names, adding those names to `derived`.
fn link_hashed(
    html: &str,
    files: &BTreeMap<String, Vec<u8>>,
    derived: &mut Vec<Derived>,
) -> String {
    let mut out = String::with_capacity(html.len() + 64);
    let mut copied = 0;
    let mut at = 0;
    while let Some(offset) = html[at..].find("=\"/") {
        let value_start = at + offset + 2;
        at = value_start;
        let name_ok =
            html[..value_start - 2].ends_with("href") || html[..value_start - 2].ends_with("src");
        let Some(len) = html[value_start..].find('"') else {
            break;
        };
        let path = &html[value_start..value_start + len];
        let Some(body) = files
            .get(path)
            .filter(|_| name_ok && !path.ends_with(".html"))
        else {
            continue;
        };
        let hashed = hashed_name(path, &content_hash(body));
        out.push_str(&html[copied..value_start]);
        out.push_str(&hashed);
        copied = value_start + len;
        if !derived.iter().any(|d| d.path == hashed) {
            derived.push(Derived {
                path: hashed,
                body: body.clone(),
                immutable: true,
            });
        }
    }
    out.push_str(&html[copied..]);
    out
}
