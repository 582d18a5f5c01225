import { spawnSync } from 'node:child_process';

// Test hosts on one machine: a network namespace per host (`ip netns`), the database's host with
// a bridge, and each other host joined to it by a veth pair (its end `eth0` in the host, the other
// end on the bridge). One subnet, 10.77.0.0/24: the database host is .1, the others .2, .3, ...
// Names carry the test process's id (tl-<pid>-<host>), so runs side by side do not meet. A host is
// cut off by setting its link down (its packets go nowhere; its sockets stay open, as on a
// machine whose cable is pulled) and brought back by setting it up. `destroy` ends every process
// left in the namespaces and deletes them; it also runs when the process exits without it.

export const SUBNET = '10.77.0';

export interface Host {
  readonly name: string;
  /** The namespace (`ip netns` name). */
  readonly ns: string;
  readonly address: string;
  /** argv running `argv` on this host. */
  exec(argv: string[]): string[];
}

export interface Network {
  readonly db: Host;
  readonly hosts: Record<string, Host>;
  /** Sets the host's link down: it is cut off from every other host. */
  cut(name: string): void;
  /** Sets its link up again. */
  restore(name: string): void;
  /** Kills what still runs in the namespaces and deletes them. Safe to call twice. */
  destroy(): void;
}

function ip(args: string[]): string {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.error !== undefined) throw new Error(`ip ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Why network namespaces cannot be made here, or undefined when they can (tried for real). */
export function netnsUnavailable(): string | undefined {
  const probe = `tl-${process.pid}-probe`;
  const r = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (r.error !== undefined) return `the ip command is missing (${r.error.message}); install iproute2`;
  if (r.status !== 0) return `ip netns add is not permitted here (${r.stderr.trim()}); it needs root (CAP_SYS_ADMIN)`;
  ip(['netns', 'del', probe]);
  return undefined;
}

/** The namespaces whose names start with `prefix`. */
export function namespacesNamed(prefix: string): string[] {
  return ip(['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix));
}

export function makeNetwork(hostNames: string[]): Network {
  const prefix = `tl-${process.pid}-`;
  const made: string[] = [];
  const host = (name: string, n: number): Host => {
    const ns = `${prefix}${name}`;
    return { name, ns, address: `${SUBNET}.${n}`, exec: (argv) => ['ip', 'netns', 'exec', ns, ...argv] };
  };
  const db = host('db', 1);
  const hosts: Record<string, Host> = {};
  let destroyed = false;
  const destroy = (): void => {
    if (destroyed) return;
    destroyed = true;
    process.removeListener('exit', destroy);
    for (const ns of made) {
      // A namespace lives on while a process is in it: end them first.
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {}
      }
      spawnSync('ip', ['netns', 'del', ns]);
    }
  };
  process.once('exit', destroy);
  try {
    for (const h of [db]) {
      ip(['netns', 'add', h.ns]);
      made.push(h.ns);
    }
    ip(['-n', db.ns, 'link', 'set', 'lo', 'up']);
    ip(['-n', db.ns, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', db.ns, 'addr', 'add', `${db.address}/24`, 'dev', 'br0']);
    ip(['-n', db.ns, 'link', 'set', 'br0', 'up']);
    hostNames.forEach((name, i) => {
      if (name === 'db' || !/^[a-z][a-z0-9]{0,7}$/.test(name)) throw new Error(`bad host name ${name}`);
      const h = host(name, i + 2);
      ip(['netns', 'add', h.ns]);
      made.push(h.ns);
      ip(['-n', h.ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', h.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', `${name}0`, 'netns', db.ns]);
      ip(['-n', db.ns, 'link', 'set', `${name}0`, 'master', 'br0']);
      ip(['-n', db.ns, 'link', 'set', `${name}0`, 'up']);
      ip(['-n', h.ns, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      ip(['-n', h.ns, 'link', 'set', 'eth0', 'up']);
      hosts[name] = h;
    });
  } catch (err) {
    destroy();
    throw err;
  }
  const of = (name: string): Host => {
    const h = hosts[name];
    if (h === undefined) throw new Error(`no host ${name}`);
    return h;
  };
  return {
    db,
    hosts,
    cut: (name) => void ip(['-n', of(name).ns, 'link', 'set', 'eth0', 'down']),
    restore: (name) => void ip(['-n', of(name).ns, 'link', 'set', 'eth0', 'up']),
    destroy,
  };
}
