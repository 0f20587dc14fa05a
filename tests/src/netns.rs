//! Real network partitions: a node in a network namespace of its own, joined to the test's
//! (root) namespace by one veth pair per link — to Redis, to PostgreSQL, to its clients and
//! an operations link for `/readyz` probes, as a kubelet probes a pod from the host rather
//! than over the clients' path. Each link can be cut, or lose a share of its packets in one
//! direction or both, by nftables rules inside the node's namespace: packets are dropped
//! silently, as on a real broken path (no reset, no "unreachable"), so TCP on both ends
//! keeps believing in its connections until something times out.
//!
//! Redis and PostgreSQL stay on the test's loopback. A plain TCP [`Relay`] bound to the
//! root end of the node's Redis or PostgreSQL link forwards to them, like the router in
//! between; the cut is on the link, not in the relay. This kernel has no `netem` qdisc, so
//! delay is a relay that holds every chunk for a fixed time in each direction
//! ([`Relay::delayed`]).
//!
//! Needs root, `ip` (iproute2) and `nft` (nftables; `scripts/ensure-services.sh` installs
//! it). [`unavailable`] says why a machine cannot, so tests can skip loudly.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Why network namespaces cannot be used here, or `None` when they can.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid(2) has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: creating network namespaces needs CAP_NET_ADMIN".into());
    }
    for (tool, package) in [("ip", "iproute2"), ("nft", "nftables")] {
        if Command::new(tool).arg("-V").output().is_err() {
            return Some(format!(
                "`{tool}` is missing (install {package}; scripts/ensure-services.sh does)"
            ));
        }
    }
    match Namespace::create() {
        Ok(_) => None,
        Err(error) => Some(format!("cannot create a network namespace: {error}")),
    }
}

fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn random_tag(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| (b'a' + rng.random_range(0..26)) as char)
        .collect()
}

/// A network namespace, deleted (with every veth end inside it) when dropped.
pub struct Namespace {
    pub name: String,
    /// 10.x.y.0/24: this namespace's links take /30s out of it.
    block: (u8, u8),
    links: u8,
}

impl Namespace {
    pub fn create() -> Result<Namespace, String> {
        let name = format!("mh{}", random_tag(8));
        run("ip", &["netns", "add", &name])?;
        let namespace = Namespace {
            block: {
                let mut rng = rand::rng();
                (rng.random_range(100..=250), rng.random_range(0..=255))
            },
            name,
            links: 0,
        };
        namespace.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, command: &[&str]) -> Result<(), String> {
        let mut args = vec!["netns", "exec", &self.name];
        args.extend_from_slice(command);
        run("ip", &args)
    }

    /// A veth pair between the root namespace and this one, named `inner` inside.
    pub fn link(&mut self, inner: &str) -> Result<Link, String> {
        let (a, b) = self.block;
        let base = self.links * 4;
        self.links += 1;
        let outer = format!("{}{}", self.name, self.links);
        let link = Link {
            outer_ip: Ipv4Addr::new(10, a, b, base + 1),
            inner_ip: Ipv4Addr::new(10, a, b, base + 2),
            inner: inner.to_owned(),
        };
        run(
            "ip",
            &[
                "link", "add", &outer, "type", "veth", "peer", "name", inner, "netns", &self.name,
            ],
        )?;
        run(
            "ip",
            &[
                "addr",
                "add",
                &format!("{}/30", link.outer_ip),
                "dev",
                &outer,
            ],
        )?;
        run("ip", &["link", "set", &outer, "up"])?;
        self.exec(&[
            "ip",
            "addr",
            "add",
            &format!("{}/30", link.inner_ip),
            "dev",
            inner,
        ])?;
        self.exec(&["ip", "link", "set", inner, "up"])?;
        Ok(link)
    }
}

impl Namespace {
    /// Runs `work` on a thread of its own inside this namespace: every socket it opens,
    /// and every thread it starts, is in the namespace and sees only its links — a
    /// machine of its own, as far as addresses go.
    pub fn run_inside<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<Result<T, String>> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            let file = std::fs::File::open(&path).map_err(|e| format!("{path}: {e}"))?;
            // SAFETY: setns(2) with a namespace file held open; it moves this thread only.
            let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
            if rc != 0 {
                return Err(format!("setns: {}", std::io::Error::last_os_error()));
            }
            Ok(work())
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// One veth pair: `outer_ip` in the root namespace, `inner_ip` in the node's.
#[derive(Clone, Debug)]
pub struct Link {
    pub outer_ip: Ipv4Addr,
    pub inner_ip: Ipv4Addr,
    /// The device's name inside the namespace (what the firewall matches).
    pub inner: String,
}

/// Packet loss on one link, in percent per direction, as seen from inside the namespace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Loss {
    /// Packets arriving into the namespace.
    pub inbound: u8,
    /// Packets leaving it.
    pub outbound: u8,
}

impl Loss {
    pub const CUT: Loss = Loss {
        inbound: 100,
        outbound: 100,
    };
}

/// The nftables rules of one namespace: per link, how much is dropped each way.
pub struct Firewall {
    namespace: String,
    losses: BTreeMap<String, Loss>,
}

impl Firewall {
    pub fn new(namespace: &Namespace) -> Firewall {
        Firewall {
            namespace: namespace.name.clone(),
            losses: BTreeMap::new(),
        }
    }

    /// Drops everything on `link`, both ways.
    pub fn cut(&mut self, link: &Link) {
        self.set(link, Loss::CUT);
    }

    /// Lets `link` carry everything again.
    pub fn heal(&mut self, link: &Link) {
        self.set(link, Loss::default());
    }

    pub fn heal_all(&mut self) {
        self.losses.clear();
        self.apply();
    }

    pub fn set(&mut self, link: &Link, loss: Loss) {
        self.losses.insert(link.inner.clone(), loss);
        self.apply();
    }

    /// Packets dropped by the rules in force now (a test checks its fault was real).
    pub fn dropped(&self) -> u64 {
        let output = Command::new("ip")
            .args(["netns", "exec", &self.namespace])
            .args(["nft", "list", "table", "inet", "partition"])
            .output()
            .expect("run nft");
        let listing = String::from_utf8_lossy(&output.stdout);
        listing
            .split("packets ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
            .sum()
    }

    /// Replaces the namespace's table in one transaction.
    fn apply(&self) {
        let rule = |device: &str, direction: &str, percent: u8| match percent {
            0 => String::new(),
            100.. => format!("    {direction} \"{device}\" counter drop\n"),
            p => format!("    {direction} \"{device}\" numgen random mod 100 < {p} counter drop\n"),
        };
        let (mut input, mut output) = (String::new(), String::new());
        for (device, loss) in &self.losses {
            input.push_str(&rule(device, "iifname", loss.inbound));
            output.push_str(&rule(device, "oifname", loss.outbound));
        }
        let script = format!(
            "table inet partition {{}}\ndelete table inet partition\n\
             table inet partition {{\n\
               chain input {{\n    type filter hook input priority 0; policy accept;\n{input}  }}\n\
               chain output {{\n    type filter hook output priority 0; policy accept;\n{output}  }}\n\
             }}\n"
        );
        let path = std::env::temp_dir().join(format!("{}-{}.nft", self.namespace, random_tag(6)));
        std::fs::write(&path, script).expect("write the nftables script");
        let applied = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.namespace,
                "nft",
                "-f",
                path.to_str().expect("a UTF-8 path"),
            ],
        );
        let _ = std::fs::remove_file(&path);
        applied.expect("apply the partition's nftables rules");
    }
}

/// A TCP forwarder in the root namespace, optionally holding every chunk for `delay` in
/// each direction (a long path: the round trip grows by twice `delay`). Stops with the
/// value; connections it carries close then.
pub struct Relay {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Relay {
    /// Listens on `bind` (port 0: any) and forwards each connection to `target`.
    pub async fn start(bind: IpAddr, target: SocketAddr) -> Relay {
        Self::delayed(bind, target, Duration::ZERO).await
    }

    pub async fn delayed(bind: IpAddr, target: SocketAddr, delay: Duration) -> Relay {
        let listener = TcpListener::bind((bind, 0)).await.expect("bind the relay");
        let addr = listener.local_addr().expect("the relay's address");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        tokio::spawn(async move {
            loop {
                let accepted =
                    tokio::time::timeout(Duration::from_millis(200), listener.accept()).await;
                if stopped.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(Ok((inbound, _))) = accepted else {
                    continue;
                };
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (in_read, in_write) = inbound.into_split();
                    let (out_read, out_write) = outbound.into_split();
                    tokio::select! {
                        _ = async {
                            tokio::join!(
                                carry(in_read, out_write, delay),
                                carry(out_read, in_write, delay)
                            )
                        } => {}
                        _ = async {
                            while !stopped.load(Ordering::Relaxed) {
                                tokio::time::sleep(Duration::from_millis(200)).await;
                            }
                        } => {}
                    }
                });
            }
        });
        Relay { addr, stop }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Copies one direction, each chunk written `delay` after it was read (order kept).
async fn carry(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (queue, mut due) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            match from.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if queue
                        .send((Instant::now() + delay, buffer[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}
