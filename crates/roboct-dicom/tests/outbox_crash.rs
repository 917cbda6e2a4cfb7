//! Crash consistency of the outbox, tested the way storage engineers test it (ALICE: Pillai et
//! al., "All File Systems Are Not Created Equal", OSDI 2014): not by killing a process, which
//! leaves everything it wrote in the page cache, but by recording the system calls and
//! replaying them under a model of what a power cut may keep.
//!
//! 1. A helper (this test binary run again for its ignored test [`traced_enqueue_helper`],
//!    with `ROBOCT_OUTBOX_CRASH_HELPER` naming the outbox) opens an outbox that already holds
//!    one item and enqueues two more, the second for a destination without a folder yet. It
//!    runs under `strace -f`, which logs every file-system call with its bytes (`-xx`).
//! 2. The log becomes an ordered list of operations on paths under the test folder, with file
//!    descriptors followed to the files they name, and the ordering rules are checked: the data
//!    of an object is written and fsynced before the rename that publishes it, its folder is
//!    fsynced after the rename and before `enqueue` returns, every folder created on the way has
//!    its parent fsynced before an item in it is published, and state records are replaced by
//!    rename, never rewritten in place.
//! 3. Every prefix of that list is replayed on a model of the folder as it was before the run,
//!    and a power cut after the prefix is simulated. The crash model: each file keeps either
//!    the data it had at its last fsync, or everything written, or a torn middle (the synced
//!    bytes plus half of the rest); each folder keeps either the entries it had at its last
//!    fsync or its current ones, every folder chosen independently (all 2^folders
//!    combinations). Each distinct resulting folder is written out, the `Outbox` is opened on
//!    it, and every item must be whole (the exact bytes) or absent, never torn; an item whose
//!    `enqueue` had returned must be there; the outbox must open and list exactly the objects
//!    on disk as pending.
//!
//! The model's "keep everything" state after the whole log is compared with the real folder
//! the helper left, so a call the parser missed fails the test. Synthetic logs with the classic
//! mistakes (rename before fsync, no fsync of the folder, a new folder whose parent is never
//! fsynced) check that the checker catches them.
//!
//! Needs `strace` (`./scripts/deps` installs it) and permission to ptrace; without them the
//! test fails, unless `ROBOCT_NO_STRACE=1` says the machine cannot have them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use roboct_dicom::outbox::{ItemState, Outbox};
use roboct_dicom::part10::{EXPLICIT_VR_LE, encode_part10};

const HELPER_ENV: &str = "ROBOCT_OUTBOX_CRASH_HELPER";
/// The helper opens `<base>/enqueue-returned-<i>` (which does not exist) right after the i-th
/// `enqueue` returns: the mark in the trace after which item i must survive any crash.
const MARKER: &str = "enqueue-returned-";
/// The outbox folder inside the test's base folder.
const BOX: &str = "box";

/// An instance and where it is queued.
#[derive(Clone, Debug)]
struct Item {
    destination: &'static str,
    uid: &'static str,
    bytes: Vec<u8>,
}

impl Item {
    fn new(destination: &'static str, uid: &'static str, filler: usize) -> Self {
        let mut o = InMemDicomObject::new_empty();
        let mut put = |tag, vr, v: &str| o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
        put(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2");
        put(tags::SOP_INSTANCE_UID, VR::UI, uid);
        // Large enough that a torn copy is visibly torn.
        put(tags::IMAGE_COMMENTS, VR::LT, &"x".repeat(filler));
        Self {
            destination,
            uid,
            bytes: encode_part10(&o, EXPLICIT_VR_LE).unwrap(),
        }
    }

    /// Path of its object, relative to the base folder.
    fn object(&self) -> PathBuf {
        Path::new(BOX)
            .join(self.destination)
            .join("objects")
            .join(format!("{}.dcm", self.uid))
    }
}

/// In the outbox before the traced run.
fn existing() -> Vec<Item> {
    vec![Item::new("pacs", "1.2.3.1", 300)]
}

/// Enqueued by the helper, in order: one for a destination that has a folder, one for a
/// destination that does not.
fn plan() -> Vec<Item> {
    vec![
        Item::new("pacs", "1.2.3.2", 1000),
        Item::new("archive", "1.2.3.3", 2000),
    ]
}

/// Not a test on its own: the program that the crash test runs under strace.
#[test]
#[ignore = "helper: run under strace by enqueue_syscalls_are_ordered_and_every_power_cut_leaves_items_whole_or_absent"]
fn traced_enqueue_helper() {
    let Some(root) = std::env::var_os(HELPER_ENV) else {
        return;
    };
    let root = PathBuf::from(root);
    let base = root.parent().unwrap().to_path_buf();
    let items = plan();
    let outbox = Outbox::open(&root).unwrap();
    for (i, item) in items.iter().enumerate() {
        outbox.enqueue(item.destination, &item.bytes).unwrap();
        let _ = std::fs::File::open(base.join(format!("{MARKER}{i}")));
    }
}

// ---------------------------------------------------------------------------------------
// The trace

/// A file-system operation under the base folder, as the trace shows it.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    /// A successful open; `create` and `truncate` are O_CREAT and O_TRUNC.
    Open {
        fd: i32,
        path: PathBuf,
        create: bool,
        truncate: bool,
    },
    Mkdir(PathBuf),
    /// Bytes written at the descriptor's offset, or at `at` (pwrite).
    Write {
        fd: i32,
        data: Vec<u8>,
        at: Option<u64>,
    },
    /// fsync or fdatasync (the same for this model: both make a file's data durable).
    Fsync(i32),
    Close(i32),
    Rename {
        from: PathBuf,
        to: PathBuf,
    },
    /// unlink, unlinkat or rmdir.
    Remove(PathBuf),
    /// `enqueue` of plan item i returned.
    Returned(usize),
}

/// Decodes a string argument as strace prints it (`-xx`: every byte as `\xHH`).
fn c_string(arg: &str) -> Result<Vec<u8>, String> {
    let inner = arg
        .strip_prefix('"')
        .and_then(|a| a.strip_suffix('"'))
        .ok_or_else(|| format!("not a complete string (truncated? raise strace -s): {arg:.60}"))?;
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len() / 4);
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = *b.get(i + 1).ok_or("dangling backslash")?;
        match c {
            b'x' => {
                let hex = inner.get(i + 2..i + 4).ok_or("short \\x escape")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                i += 4;
                continue;
            }
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(0x0b),
            b'f' => out.push(0x0c),
            b'0'..=b'7' => {
                let end = (i + 1..(i + 4).min(b.len()))
                    .take_while(|&j| b[j].is_ascii_digit() && b[j] < b'8')
                    .last()
                    .unwrap_or(i + 1);
                out.push(u8::from_str_radix(&inner[i + 1..=end], 8).map_err(|e| e.to_string())?);
                i = end + 1;
                continue;
            }
            other => out.push(other),
        }
        i += 2;
    }
    Ok(out)
}

fn path_arg(arg: &str) -> Result<PathBuf, String> {
    use std::os::unix::ffi::OsStringExt;
    Ok(PathBuf::from(std::ffi::OsString::from_vec(c_string(arg)?)))
}

/// `name(args) = ret` into the name, the top-level arguments and the return value.
fn split_call(line: &str) -> Option<(&str, Vec<&str>, i64)> {
    let open = line.find('(')?;
    let name = &line[..open];
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return None;
    }
    let b = line.as_bytes();
    let (mut depth, mut in_str, mut i, mut start) = (0usize, false, open + 1, open + 1);
    let mut args = Vec::new();
    let close = loop {
        let c = *b.get(i)?;
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'(' | b'[' | b'{' => depth += 1,
                b')' if depth == 0 => break i,
                b')' | b']' | b'}' => depth -= 1,
                b',' if depth == 0 => {
                    args.push(line[start..i].trim());
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    };
    let last = line[start..close].trim();
    if !last.is_empty() {
        args.push(last);
    }
    let ret = line[close + 1..].trim().strip_prefix('=')?.trim();
    let ret = ret.split_whitespace().next()?;
    Some((name, args, ret.parse().unwrap_or(i64::MIN)))
}

/// The operations under `base` in a log of `strace -f -xx`, in order. Fails on a call that
/// touches `base` in a way the model does not know, rather than ignoring it.
fn parse_strace(log: &str, base: &Path) -> Result<Vec<Op>, String> {
    let mut unfinished: HashMap<String, String> = HashMap::new();
    let mut ours: HashSet<i32> = HashSet::new();
    let mut ops = Vec::new();
    let under = |p: &Path| p.starts_with(base);
    for raw in log.lines() {
        // `-f` prefixes the thread id once there is more than one.
        let (pid, rest) = match raw.split_once(' ') {
            Some((p, r)) if p.bytes().all(|c| c.is_ascii_digit()) => (p.to_string(), r.trim()),
            _ => (String::new(), raw.trim()),
        };
        if rest.starts_with("+++") || rest.starts_with("---") || rest.is_empty() {
            continue;
        }
        let line = if let Some(head) = rest.strip_suffix("<unfinished ...>") {
            unfinished.insert(pid, head.trim_end().to_string());
            continue;
        } else if rest.starts_with("<...") {
            let (_, tail) = rest
                .split_once("resumed>")
                .ok_or_else(|| format!("bad resumed line: {rest}"))?;
            let head = unfinished
                .remove(&pid)
                .ok_or_else(|| format!("resumed without a start: {rest}"))?;
            format!("{head}{tail}")
        } else {
            rest.to_string()
        };
        let Some((name, args, ret)) = split_call(&line) else {
            continue;
        };
        let arg = |i: usize| -> Result<&str, String> {
            args.get(i)
                .copied()
                .ok_or_else(|| format!("{name}: argument {i} missing in {line:.120}"))
        };
        let fd_arg = |i: usize| -> Result<i32, String> {
            arg(i)?
                .parse()
                .map_err(|_| format!("{name}: bad fd in {line:.120}"))
        };
        // A path relative to a descriptor (dirfd) is not modelled: refuse it if it could
        // be ours.
        let at_path = |dirfd: usize, p: usize| -> Result<Option<PathBuf>, String> {
            let path = path_arg(arg(p)?)?;
            match arg(dirfd)? {
                "AT_FDCWD" if path.is_absolute() => Ok(Some(path)),
                "AT_FDCWD" => Ok(None),
                d => {
                    if ours.contains(&d.parse().unwrap_or(-1)) {
                        Err(format!(
                            "{name} relative to a folder descriptor is not modelled"
                        ))
                    } else {
                        Ok(None)
                    }
                }
            }
        };
        match name {
            "openat" | "open" => {
                let (path, flags) = if name == "openat" {
                    (at_path(0, 1)?, arg(2)?)
                } else {
                    (Some(path_arg(arg(0)?)?), arg(1)?)
                };
                let Some(path) = path else { continue };
                if ret < 0 {
                    if let Some(i) = path
                        .file_name()
                        .and_then(|n| n.to_str())
                        .and_then(|n| n.strip_prefix(MARKER))
                        .filter(|_| path.parent() == Some(base))
                    {
                        ops.push(Op::Returned(i.parse().map_err(|_| "bad marker")?));
                    }
                    continue;
                }
                let fd = ret as i32;
                if under(&path) {
                    ours.insert(fd);
                    ops.push(Op::Open {
                        fd,
                        path,
                        create: flags.contains("O_CREAT"),
                        truncate: flags.contains("O_TRUNC"),
                    });
                } else {
                    ours.remove(&fd);
                }
            }
            "mkdir" | "mkdirat" => {
                let path = if name == "mkdir" {
                    Some(path_arg(arg(0)?)?)
                } else {
                    at_path(0, 1)?
                };
                if let Some(p) = path.filter(|p| under(p))
                    && ret == 0
                {
                    ops.push(Op::Mkdir(p));
                }
            }
            "write" | "pwrite64" => {
                let fd = fd_arg(0)?;
                if ours.contains(&fd) && ret >= 0 {
                    let mut data = c_string(arg(1)?)?;
                    data.truncate(ret as usize);
                    let at = if name == "pwrite64" {
                        Some(arg(3)?.parse().map_err(|_| "bad pwrite offset")?)
                    } else {
                        None
                    };
                    ops.push(Op::Write { fd, data, at });
                }
            }
            "fsync" | "fdatasync" => {
                let fd = fd_arg(0)?;
                if ours.contains(&fd) && ret == 0 {
                    ops.push(Op::Fsync(fd));
                }
            }
            "close" => {
                let fd = fd_arg(0)?;
                if ours.remove(&fd) {
                    ops.push(Op::Close(fd));
                }
            }
            "rename" | "renameat" | "renameat2" => {
                let (from, to) = if name == "rename" {
                    (Some(path_arg(arg(0)?)?), Some(path_arg(arg(1)?)?))
                } else {
                    (at_path(0, 1)?, at_path(2, 3)?)
                };
                if name == "renameat2" && arg(4).is_ok_and(|f| f.contains("EXCHANGE")) {
                    return Err("renameat2 RENAME_EXCHANGE is not modelled".into());
                }
                let (Some(from), Some(to)) = (from, to) else {
                    continue;
                };
                if ret == 0 && (under(&from) || under(&to)) {
                    if !(under(&from) && under(&to)) {
                        return Err(format!("rename across the base folder: {line:.200}"));
                    }
                    ops.push(Op::Rename { from, to });
                }
            }
            "unlink" | "rmdir" | "unlinkat" => {
                let path = if name == "unlinkat" {
                    at_path(0, 1)?
                } else {
                    Some(path_arg(arg(0)?)?)
                };
                if let Some(p) = path.filter(|p| under(p))
                    && ret == 0
                {
                    ops.push(Op::Remove(p));
                }
            }
            "writev" | "pwritev" | "pwritev2" | "ftruncate" | "fallocate" | "sync_file_range"
            | "syncfs" | "copy_file_range"
                if ours.contains(&fd_arg(0)?) =>
            {
                return Err(format!(
                    "{name} on an outbox file is not modelled: {line:.120}"
                ));
            }
            "link" | "linkat" | "symlink" | "symlinkat" | "truncate" | "creat" | "mknod"
            | "mknodat"
                if args.iter().any(|a| path_arg(a).is_ok_and(|p| under(&p))) =>
            {
                return Err(format!(
                    "{name} under the outbox is not modelled: {line:.120}"
                ));
            }
            // stat, access, readlink, execve, ...: read-only for this purpose.
            _ => {}
        }
    }
    Ok(ops)
}

// ---------------------------------------------------------------------------------------
// The model

/// A node (inode) with what is durable and what is current.
#[derive(Clone, Debug)]
enum Node {
    Dir {
        now: BTreeMap<String, usize>,
        synced: BTreeMap<String, usize>,
    },
    File {
        now: Vec<u8>,
        synced: Vec<u8>,
    },
}

/// What a power cut leaves of file data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DataKept {
    Synced,
    All,
    Torn,
}

/// A folder tree: relative path to `None` (folder) or the file's bytes.
type Tree = BTreeMap<PathBuf, Option<Vec<u8>>>;

/// The base folder as a file system would hold it: node 0 is the base folder.
#[derive(Clone, Debug)]
struct Model {
    base: PathBuf,
    nodes: Vec<Node>,
    /// Open descriptors: node and offset.
    fds: HashMap<i32, (usize, u64)>,
}

/// One applied operation with the nodes it touched, for the ordering rules.
#[derive(Clone, Debug)]
struct Step {
    op: Op,
    /// The file or folder operated on (the renamed node for a rename).
    node: Option<usize>,
    /// Its folder (the target folder for a rename).
    parent: Option<usize>,
    /// The path of the file written or fsynced, at that moment.
    path: Option<PathBuf>,
}

impl Model {
    /// The tree on disk, all of it durable.
    fn from_disk(base: &Path) -> Self {
        fn load(nodes: &mut Vec<Node>, path: &Path) -> usize {
            let id = nodes.len();
            if path.is_dir() {
                nodes.push(Node::Dir {
                    now: BTreeMap::new(),
                    synced: BTreeMap::new(),
                });
                let mut entries = BTreeMap::new();
                for e in std::fs::read_dir(path).unwrap() {
                    let e = e.unwrap();
                    let child = load(nodes, &e.path());
                    entries.insert(e.file_name().to_string_lossy().to_string(), child);
                }
                nodes[id] = Node::Dir {
                    now: entries.clone(),
                    synced: entries,
                };
            } else {
                let data = std::fs::read(path).unwrap();
                nodes.push(Node::File {
                    now: data.clone(),
                    synced: data,
                });
            }
            id
        }
        let mut nodes = Vec::new();
        load(&mut nodes, base);
        Self {
            base: base.to_path_buf(),
            nodes,
            fds: HashMap::new(),
        }
    }

    fn rel<'a>(&self, path: &'a Path) -> Result<&'a Path, String> {
        path.strip_prefix(&self.base)
            .map_err(|_| format!("{} is outside the base folder", path.display()))
    }

    fn entries(&self, dir: usize) -> Result<&BTreeMap<String, usize>, String> {
        match &self.nodes[dir] {
            Node::Dir { now, .. } => Ok(now),
            Node::File { .. } => Err(format!("node {dir} is not a folder")),
        }
    }

    fn resolve(&self, path: &Path) -> Result<Option<usize>, String> {
        let mut n = 0;
        for c in self.rel(path)?.components() {
            let name = c.as_os_str().to_string_lossy();
            match self.entries(n)?.get(&*name) {
                Some(&child) => n = child,
                None => return Ok(None),
            }
        }
        Ok(Some(n))
    }

    /// The folder holding `path` and the entry's name.
    fn parent_of(&self, path: &Path) -> Result<(usize, String), String> {
        let parent = path.parent().ok_or("no parent")?;
        let dir = self
            .resolve(parent)?
            .ok_or_else(|| format!("{} does not exist in the model", parent.display()))?;
        let name = path
            .file_name()
            .ok_or("no file name")?
            .to_string_lossy()
            .to_string();
        Ok((dir, name))
    }

    fn dir_mut(&mut self, dir: usize) -> &mut BTreeMap<String, usize> {
        match &mut self.nodes[dir] {
            Node::Dir { now, .. } => now,
            Node::File { .. } => panic!("node {dir} is not a folder"),
        }
    }

    fn fd(&self, fd: i32) -> Result<(usize, u64), String> {
        self.fds
            .get(&fd)
            .copied()
            .ok_or_else(|| format!("fd {fd} is not open in the model"))
    }

    /// Applies one operation; the model and the trace must agree (a failure says where not).
    fn apply(&mut self, op: &Op) -> Result<Step, String> {
        let step = |node, parent| Step {
            op: op.clone(),
            node,
            parent,
            path: None,
        };
        match op {
            Op::Open {
                fd,
                path,
                create,
                truncate,
            } => {
                let (dir, name) = if self.rel(path)?.as_os_str().is_empty() {
                    self.fds.insert(*fd, (0, 0));
                    return Ok(step(Some(0), None));
                } else {
                    self.parent_of(path)?
                };
                let node = match self.entries(dir)?.get(&name) {
                    Some(&n) => n,
                    None if *create => {
                        self.nodes.push(Node::File {
                            now: Vec::new(),
                            synced: Vec::new(),
                        });
                        let n = self.nodes.len() - 1;
                        self.dir_mut(dir).insert(name, n);
                        n
                    }
                    None => return Err(format!("{} opened but absent", path.display())),
                };
                if *truncate && let Node::File { now, .. } = &mut self.nodes[node] {
                    now.clear();
                }
                self.fds.insert(*fd, (node, 0));
                Ok(step(Some(node), Some(dir)))
            }
            Op::Mkdir(path) => {
                let (dir, name) = self.parent_of(path)?;
                if self.entries(dir)?.contains_key(&name) {
                    return Err(format!("mkdir {}: exists in the model", path.display()));
                }
                self.nodes.push(Node::Dir {
                    now: BTreeMap::new(),
                    synced: BTreeMap::new(),
                });
                let n = self.nodes.len() - 1;
                self.dir_mut(dir).insert(name, n);
                Ok(step(Some(n), Some(dir)))
            }
            Op::Write { fd, data, at } => {
                let (node, offset) = self.fd(*fd)?;
                let pos = at.unwrap_or(offset) as usize;
                let Node::File { now, .. } = &mut self.nodes[node] else {
                    return Err(format!("write to folder fd {fd}"));
                };
                if now.len() < pos + data.len() {
                    now.resize(pos + data.len(), 0);
                }
                now[pos..pos + data.len()].copy_from_slice(data);
                if at.is_none() {
                    self.fds.insert(*fd, (node, (pos + data.len()) as u64));
                }
                Ok(Step {
                    path: self.path_of(node),
                    ..step(Some(node), None)
                })
            }
            Op::Fsync(fd) => {
                let (node, _) = self.fd(*fd)?;
                match &mut self.nodes[node] {
                    Node::Dir { now, synced } => *synced = now.clone(),
                    Node::File { now, synced } => *synced = now.clone(),
                }
                Ok(Step {
                    path: self.path_of(node),
                    ..step(Some(node), None)
                })
            }
            Op::Close(fd) => {
                self.fds.remove(fd);
                Ok(step(None, None))
            }
            Op::Rename { from, to } => {
                let (fdir, fname) = self.parent_of(from)?;
                let (tdir, tname) = self.parent_of(to)?;
                let node = self
                    .dir_mut(fdir)
                    .remove(&fname)
                    .ok_or_else(|| format!("rename of absent {}", from.display()))?;
                self.dir_mut(tdir).insert(tname, node);
                Ok(step(Some(node), Some(tdir)))
            }
            Op::Remove(path) => {
                let (dir, name) = self.parent_of(path)?;
                let node = self.dir_mut(dir).remove(&name);
                Ok(step(node, Some(dir)))
            }
            Op::Returned(_) => Ok(step(None, None)),
        }
    }

    /// Folders whose current entries differ from their durable ones.
    fn unsynced_dirs(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| matches!(&self.nodes[n], Node::Dir { now, synced } if now != synced))
            .collect()
    }

    /// The tree a power cut leaves when the folders in `dirs_now` keep their current entries
    /// (the others their durable ones) and file data is kept as `data`.
    fn crash_tree(&self, dirs_now: &BTreeSet<usize>, data: DataKept) -> Tree {
        let mut tree = Tree::new();
        let mut stack = vec![(0usize, PathBuf::new(), 0usize)];
        while let Some((n, path, depth)) = stack.pop() {
            assert!(depth < 64, "a cycle in the model");
            match &self.nodes[n] {
                Node::Dir { now, synced } => {
                    if !path.as_os_str().is_empty() {
                        tree.insert(path.clone(), None);
                    }
                    let entries = if dirs_now.contains(&n) { now } else { synced };
                    for (name, &child) in entries {
                        stack.push((child, path.join(name), depth + 1));
                    }
                }
                Node::File { now, synced } => {
                    let bytes = match data {
                        DataKept::Synced => synced.clone(),
                        DataKept::All => now.clone(),
                        DataKept::Torn => {
                            let common = now.iter().zip(synced).take_while(|(a, b)| a == b).count();
                            now[..common + (now.len() - common) / 2].to_vec()
                        }
                    };
                    tree.insert(path, Some(bytes));
                }
            }
        }
        tree
    }

    /// Every tree a power cut may leave now (see the module docs), without repeats.
    fn crash_trees(&self) -> BTreeSet<Tree> {
        let dirs = self.unsynced_dirs();
        assert!(dirs.len() <= 12, "too many unsynced folders to combine");
        let mut out = BTreeSet::new();
        for mask in 0u32..(1 << dirs.len()) {
            let now: BTreeSet<usize> = dirs
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, &d)| d)
                .collect();
            for data in [DataKept::Synced, DataKept::All, DataKept::Torn] {
                out.insert(self.crash_tree(&now, data));
            }
        }
        out
    }

    /// The current tree ("keep everything").
    fn tree_now(&self) -> Tree {
        let all: BTreeSet<usize> = (0..self.nodes.len()).collect();
        self.crash_tree(&all, DataKept::All)
    }

    /// Path of a node through the current entries (for printing).
    fn path_of(&self, target: usize) -> Option<PathBuf> {
        let mut stack = vec![(0usize, PathBuf::new())];
        while let Some((n, p)) = stack.pop() {
            if n == target {
                return Some(p);
            }
            if let Node::Dir { now, .. } = &self.nodes[n] {
                for (name, &c) in now {
                    stack.push((c, p.join(name)));
                }
            }
        }
        None
    }
}

fn tree_on_disk(base: &Path) -> Tree {
    Model::from_disk(base).tree_now()
}

// ---------------------------------------------------------------------------------------
// The rules

/// Applies `ops` to `before`; the steps with their nodes.
fn steps(before: &Model, ops: &[Op]) -> Result<(Vec<Step>, Model), String> {
    let mut m = before.clone();
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        out.push(m.apply(op).map_err(|e| format!("step {i} ({op:?}): {e}"))?);
    }
    Ok((out, m))
}

/// The ordering rules (see the module docs); one message per violation.
fn check_order(base: &Path, steps: &[Step], plan: &[Item]) -> Vec<String> {
    let mut bad = Vec::new();
    let index_of = |want: &dyn Fn(&Step) -> bool| -> Vec<usize> {
        steps
            .iter()
            .enumerate()
            .filter(|(_, s)| want(s))
            .map(|(i, _)| i)
            .collect()
    };
    let fsyncs_of =
        |node: usize| index_of(&|s| matches!(s.op, Op::Fsync(_)) && s.node == Some(node));
    for (i, item) in plan.iter().enumerate() {
        let target = base.join(item.object());
        let what = format!("item {i} ({})", item.object().display());
        let Some(returned) = index_of(&|s| s.op == Op::Returned(i)).first().copied() else {
            bad.push(format!("{what}: enqueue never returned"));
            continue;
        };
        let publish = index_of(&|s| matches!(&s.op, Op::Rename { to, .. } if *to == target));
        let Some(&r) = publish.first() else {
            bad.push(format!("{what}: not published by a rename"));
            continue;
        };
        let (node, dir) = (steps[r].node.unwrap(), steps[r].parent.unwrap());
        let writes = index_of(&|s| matches!(s.op, Op::Write { .. }) && s.node == Some(node));
        let last_write = writes.iter().copied().filter(|&w| w < r).max();
        match last_write {
            None => bad.push(format!("{what}: no data written before the rename")),
            Some(w) => {
                if !fsyncs_of(node).iter().any(|&f| w < f && f < r) {
                    bad.push(format!(
                        "{what}: data not fsynced between its last write (step {w}) and the rename (step {r})"
                    ));
                }
            }
        }
        if writes.iter().any(|&w| w > r) {
            bad.push(format!("{what}: written after it was published"));
        }
        if !fsyncs_of(dir).iter().any(|&f| r < f && f < returned) {
            bad.push(format!(
                "{what}: its folder not fsynced between the rename (step {r}) and the return (step {returned})"
            ));
        }
        for (j, s) in steps.iter().enumerate() {
            if let Op::Mkdir(p) = &s.op
                && target.starts_with(p)
                && !fsyncs_of(s.parent.unwrap()).iter().any(|&f| j < f && f < r)
            {
                bad.push(format!(
                    "{what}: folder {} created (step {j}) but its parent not fsynced before the item was published (step {r})",
                    p.strip_prefix(base).unwrap_or(p).display()
                ));
            }
        }
    }
    for (j, s) in steps.iter().enumerate() {
        if let Op::Open {
            path,
            create,
            truncate,
            ..
        } = &s.op
            && (*create || *truncate)
            && path
                .parent()
                .and_then(|p| p.file_name())
                .is_some_and(|n| n == "state")
            && !path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(".tmp-"))
        {
            bad.push(format!(
                "step {j}: state record {} written in place, not replaced by rename",
                path.display()
            ));
        }
    }
    bad
}

/// What the replay covered.
#[derive(Debug, Default)]
struct Replayed {
    prefixes: usize,
    crash_states: usize,
}

/// Checks one crash tree: materialises it in `scratch` and opens the outbox on it.
fn check_crash_tree(
    tree: &Tree,
    scratch: &Path,
    existing: &[Item],
    plan: &[Item],
    returned: &BTreeSet<usize>,
) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(scratch);
    std::fs::create_dir_all(scratch).unwrap();
    for (p, content) in tree {
        match content {
            None => std::fs::create_dir_all(scratch.join(p)).unwrap(),
            Some(bytes) => std::fs::write(scratch.join(p), bytes).unwrap(),
        }
    }
    let known: BTreeSet<PathBuf> = existing.iter().chain(plan).map(Item::object).collect();
    for (p, content) in tree {
        if p.extension().is_some_and(|e| e == "dcm") && content.is_some() && !known.contains(p) {
            return Err(format!("unexpected object {}", p.display()));
        }
    }
    let mut present: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (i, item) in existing.iter().chain(plan).enumerate() {
        let must = i < existing.len() || returned.contains(&(i - existing.len()));
        match tree.get(&item.object()) {
            Some(Some(bytes)) if *bytes == item.bytes => {
                present
                    .entry(item.destination)
                    .or_default()
                    .insert(item.uid);
            }
            Some(Some(bytes)) => {
                return Err(format!(
                    "TORN item {}: {} bytes on disk, {} expected",
                    item.object().display(),
                    bytes.len(),
                    item.bytes.len()
                ));
            }
            _ if must => {
                return Err(format!(
                    "item {} LOST although it was in the outbox (or its enqueue had returned)",
                    item.object().display()
                ));
            }
            _ => {}
        }
    }
    let outbox = Outbox::open(scratch.join(BOX)).map_err(|e| format!("outbox open: {e}"))?;
    let destinations = outbox
        .destinations()
        .map_err(|e| format!("destinations: {e}"))?;
    for d in present.keys() {
        if !destinations.iter().any(|x| x == d) {
            return Err(format!("destination {d} holds items but is not listed"));
        }
    }
    for d in &destinations {
        let records = outbox
            .records(d)
            .map_err(|e| format!("records of {d}: {e}"))?;
        let listed: BTreeSet<&str> = records
            .iter()
            .map(|r| r.sop_instance_uid.as_str())
            .collect();
        let on_disk = present.get(d.as_str()).cloned().unwrap_or_default();
        if listed != on_disk {
            return Err(format!(
                "{d}: the outbox lists {listed:?}, the disk holds {on_disk:?}"
            ));
        }
        if let Some(r) = records.iter().find(|r| r.state != ItemState::Pending) {
            return Err(format!(
                "{d}: {} is {:?}, not pending",
                r.sop_instance_uid, r.state
            ));
        }
        for sub in ["objects", "state"] {
            for e in std::fs::read_dir(scratch.join(BOX).join(d).join(sub)).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().to_string();
                if name.starts_with(".tmp-") {
                    return Err(format!(
                        "{d}/{sub}/{name}: a dead writer's temporary file was left"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Replays every prefix of `ops` on `before` under the crash model; the first failure names
/// the prefix, the operation and the crash state.
fn replay(
    before: &Model,
    ops: &[Op],
    existing: &[Item],
    plan: &[Item],
    scratch: &Path,
) -> Result<Replayed, String> {
    let mut m = before.clone();
    let mut returned = BTreeSet::new();
    let mut seen: HashSet<(Tree, BTreeSet<usize>)> = HashSet::new();
    let mut stats = Replayed::default();
    for k in 0..=ops.len() {
        if k > 0 {
            m.apply(&ops[k - 1])?;
            if let Op::Returned(i) = ops[k - 1] {
                returned.insert(i);
            }
        }
        stats.prefixes += 1;
        for tree in m.crash_trees() {
            if !seen.insert((tree.clone(), returned.clone())) {
                continue;
            }
            stats.crash_states += 1;
            check_crash_tree(&tree, scratch, existing, plan, &returned).map_err(|e| {
                let after = if k == 0 {
                    "before the first operation".to_string()
                } else {
                    format!("after step {} ({:?})", k - 1, short(&ops[k - 1], before))
                };
                let files: Vec<String> = tree
                    .iter()
                    .map(|(p, c)| match c {
                        None => format!("{}/", p.display()),
                        Some(b) => format!("{} ({} B)", p.display(), b.len()),
                    })
                    .collect();
                format!(
                    "power cut {after}: {e}\n  the folder then held: {}",
                    files.join(", ")
                )
            })?;
        }
    }
    let _ = std::fs::remove_dir_all(scratch);
    Ok(stats)
}

/// One line per operation, paths relative to the base folder.
fn short(op: &Op, m: &Model) -> String {
    let rel = |p: &Path| -> String {
        let r = p.strip_prefix(&m.base).unwrap_or(p).display().to_string();
        if r.is_empty() { ".".into() } else { r }
    };
    match op {
        Op::Open {
            fd,
            path,
            create,
            truncate,
        } => format!(
            "open {} -> fd {fd}{}{}",
            rel(path),
            if *create { " O_CREAT" } else { "" },
            if *truncate { " O_TRUNC" } else { "" }
        ),
        Op::Mkdir(p) => format!("mkdir {}", rel(p)),
        Op::Write { fd, data, at } => match at {
            Some(o) => format!("pwrite fd {fd} {} B at {o}", data.len()),
            None => format!("write fd {fd} {} B", data.len()),
        },
        Op::Fsync(fd) => format!("fsync fd {fd}"),
        Op::Close(fd) => format!("close fd {fd}"),
        Op::Rename { from, to } => format!("rename {} -> {}", rel(from), rel(to)),
        Op::Remove(p) => format!("unlink {}", rel(p)),
        Op::Returned(i) => format!("-- enqueue {i} returned --"),
    }
}

/// The sequence with each fd's file, for the test output.
fn describe(before: &Model, steps: &[Step]) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        let on = match &s.path {
            Some(p) if p.as_os_str().is_empty() => "   [.]".to_string(),
            Some(p) => format!("   [{}]", p.display()),
            None => String::new(),
        };
        out.push_str(&format!("{i:>3} {}{on}\n", short(&s.op, before)));
    }
    out
}

// ---------------------------------------------------------------------------------------
// The tests

/// A base folder with an outbox holding `existing()`, made through the outbox itself.
fn prepared_base() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().canonicalize().unwrap();
    let outbox = Outbox::open(base.join(BOX)).unwrap();
    for item in existing() {
        outbox.enqueue(item.destination, &item.bytes).unwrap();
    }
    (tmp, base)
}

fn strace_available() -> Result<(), String> {
    match Command::new("strace").arg("-V").output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "`strace -V` failed: {}",
            String::from_utf8_lossy(&o.stderr)
        )),
        Err(e) => Err(format!("cannot run strace ({e})")),
    }
}

fn no_strace_allowed() -> bool {
    std::env::var("ROBOCT_NO_STRACE").is_ok_and(|v| v == "1")
}

#[test]
fn enqueue_syscalls_are_ordered_and_every_power_cut_leaves_items_whole_or_absent() {
    if let Err(why) = strace_available() {
        if no_strace_allowed() {
            eprintln!("SKIPPED (ROBOCT_NO_STRACE=1): {why}");
            return;
        }
        panic!(
            "{why}: this test needs strace (./scripts/deps installs the apt package strace); set ROBOCT_NO_STRACE=1 only on a machine that cannot have it"
        );
    }
    let (_tmp, base) = prepared_base();
    let before = Model::from_disk(&base);
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("enqueue.strace");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-xx", "-s", "1000000", "-o"])
        .arg(&log)
        .args([
            "-e",
            "trace=%file,write,pwrite64,writev,pwritev,pwritev2,fsync,fdatasync,sync_file_range,syncfs,ftruncate,fallocate,close",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "traced_enqueue_helper", "--ignored", "--nocapture"])
        .env(HELPER_ENV, base.join(BOX))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        let ptrace = stderr.contains("ptrace") || stderr.contains("PTRACE");
        if ptrace && no_strace_allowed() {
            eprintln!("SKIPPED (ROBOCT_NO_STRACE=1): strace cannot trace here: {stderr}");
            return;
        }
        panic!(
            "the traced helper failed ({}){}:\n{}{stderr}",
            out.status,
            if ptrace {
                " (ptrace is not permitted here: run where it is, or set ROBOCT_NO_STRACE=1)"
            } else {
                ""
            },
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let text = std::fs::read_to_string(&log).unwrap();
    let ops = parse_strace(&text, &base).unwrap_or_else(|e| panic!("{e}"));
    let (steps, after) = steps(&before, &ops).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "the system calls of two enqueues (the second to a new destination), under {}:\n{}",
        base.display(),
        describe(&before, &steps)
    );

    // The parser saw everything: the model's current tree is the real folder.
    assert_eq!(
        after.tree_now().keys().collect::<Vec<_>>(),
        tree_on_disk(&base).keys().collect::<Vec<_>>(),
        "the model of the trace and the real folder differ: a call was missed"
    );
    assert!(
        after.tree_now() == tree_on_disk(&base),
        "file contents differ from the model"
    );

    let bad = check_order(&base, &steps, &plan());
    assert!(bad.is_empty(), "ordering rules broken:\n{}", bad.join("\n"));

    let stats = replay(
        &before,
        &ops,
        &existing(),
        &plan(),
        &logs.path().join("crash"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "replayed {} prefixes of {} operations: {} distinct power-cut states, every item whole or absent",
        stats.prefixes,
        ops.len(),
        stats.crash_states
    );
    assert_eq!(stats.prefixes, ops.len() + 1);
}

// The checker checked: synthetic traces with the classic mistakes.

/// The operations of a correct enqueue of `item`, in the style of the outbox; `mistake`
/// drops or moves one of them.
fn synthetic_enqueue(base: &Path, item: &Item, i: usize, mistake: Option<&str>) -> Vec<Op> {
    let dest = base.join(BOX).join(item.destination);
    let objects = dest.join("objects");
    let tmp = objects.join(".tmp-4999999-0");
    let mut ops = Vec::new();
    if !dest.exists() {
        ops.push(Op::Mkdir(dest.clone()));
        if mistake != Some("no parent fsync") {
            ops.push(Op::Open {
                fd: 5,
                path: base.join(BOX),
                create: false,
                truncate: false,
            });
            ops.push(Op::Fsync(5));
            ops.push(Op::Close(5));
        }
        for sub in [&objects, &dest.join("state")] {
            ops.push(Op::Mkdir(sub.clone()));
            ops.push(Op::Open {
                fd: 5,
                path: dest.clone(),
                create: false,
                truncate: false,
            });
            ops.push(Op::Fsync(5));
            ops.push(Op::Close(5));
        }
    }
    ops.push(Op::Open {
        fd: 3,
        path: tmp.clone(),
        create: true,
        truncate: true,
    });
    ops.push(Op::Write {
        fd: 3,
        data: item.bytes.clone(),
        at: None,
    });
    let rename = Op::Rename {
        from: tmp,
        to: base.join(item.object()),
    };
    if mistake == Some("rename before fsync") {
        ops.push(rename.clone());
        ops.push(Op::Fsync(3));
    } else {
        ops.push(Op::Fsync(3));
        ops.push(rename);
    }
    ops.push(Op::Close(3));
    if mistake != Some("no folder fsync") {
        ops.push(Op::Open {
            fd: 4,
            path: objects,
            create: false,
            truncate: false,
        });
        ops.push(Op::Fsync(4));
        ops.push(Op::Close(4));
    }
    ops.push(Op::Returned(i));
    ops
}

#[test]
fn the_checker_catches_the_classic_mistakes() {
    let (_tmp, base) = prepared_base();
    let before = Model::from_disk(&base);
    let scratch = tempfile::tempdir().unwrap();
    let existing = existing();
    for (item, mistake, expect) in [
        (&plan()[0], None, None),
        (&plan()[1], None, None),
        (&plan()[0], Some("rename before fsync"), Some("TORN")),
        (&plan()[0], Some("no folder fsync"), Some("LOST")),
        (&plan()[1], Some("no parent fsync"), Some("LOST")),
    ] {
        let plan = vec![item.clone()];
        let ops = synthetic_enqueue(&base, item, 0, mistake);
        let (steps, _) = steps(&before, &ops).unwrap();
        let order = check_order(&base, &steps, &plan);
        let replayed = replay(&before, &ops, &existing, &plan, &scratch.path().join("s"));
        match expect {
            None => {
                assert!(order.is_empty(), "{order:?}");
                replayed.unwrap();
            }
            Some(word) => {
                assert!(
                    !order.is_empty(),
                    "{mistake:?}: the ordering check missed it"
                );
                let e = replayed.expect_err(mistake.unwrap());
                assert!(e.contains(word), "{mistake:?}: {e}");
            }
        }
    }
}

#[test]
fn strace_lines_are_parsed_with_descriptors_followed() {
    let base = Path::new("/b");
    let hex = |s: &[u8]| -> String { s.iter().map(|b| format!("\\x{b:02x}")).collect() };
    let log = format!(
        "17 execve(\"{exe}\", [\"x\"], 0x7ffd /* 3 vars */) = 0\n\
         17 openat(AT_FDCWD, \"{lib}\", O_RDONLY|O_CLOEXEC) = 3\n\
         17 write(3, \"{data}\", 2) = 2\n\
         17 close(3) = 0\n\
         17 openat(AT_FDCWD, \"{tmp}\", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666 <unfinished ...>\n\
         18 write(1, \"{data}\", 2) = 2\n\
         17 <... openat resumed>) = 3\n\
         17 write(3, \"{data}\", 3) = 2\n\
         17 fsync(3) = 0\n\
         17 close(3) = 0\n\
         17 rename(\"{tmp}\", \"{fin}\") = 0\n\
         17 mkdirat(AT_FDCWD, \"{dir}\", 0777) = 0\n\
         17 statx(AT_FDCWD, \"{fin}\", AT_STATX_SYNC_AS_STAT, STATX_ALL, {{stx_mask=0}}) = 0\n\
         17 openat(AT_FDCWD, \"{mark}\", O_RDONLY|O_CLOEXEC) = -1 ENOENT (No such file or directory)\n\
         17 +++ exited with 0 +++\n",
        exe = hex(b"/bin/x"),
        lib = hex(b"/lib/libc.so"),
        data = hex(b"a\"b"),
        tmp = hex(b"/b/o/.tmp"),
        fin = hex(b"/b/o/f"),
        dir = hex(b"/b/d"),
        mark = hex(b"/b/enqueue-returned-1"),
    );
    let ops = parse_strace(&log, base).unwrap();
    assert_eq!(
        ops,
        vec![
            Op::Open {
                fd: 3,
                path: "/b/o/.tmp".into(),
                create: true,
                truncate: true
            },
            Op::Write {
                fd: 3,
                data: b"a\"".to_vec(),
                at: None
            },
            Op::Fsync(3),
            Op::Close(3),
            Op::Rename {
                from: "/b/o/.tmp".into(),
                to: "/b/o/f".into()
            },
            Op::Mkdir("/b/d".into()),
            Op::Returned(1),
        ]
    );
    assert_eq!(c_string(r#""a\n\"\\\x41\101""#).unwrap(), b"a\n\"\\AA");
    assert!(
        c_string("\"abc\"...").is_err(),
        "a truncated string is refused"
    );
    let bad = format!(
        "17 openat(AT_FDCWD, \"{}\", O_RDONLY) = 4\n17 writev(4, [], 0) = 0\n",
        hex(b"/b/x")
    );
    assert!(
        parse_strace(&bad, base).is_err(),
        "an unmodelled call is refused"
    );
}
