"""The policy shipped with the engine (version 0 while no admin saved one): read-only commands for
every server, each with only the options that only read. Its YAML is what an admin starts from on
the policy page (docs/diagnostics.md explains every field)."""

from __future__ import annotations

DEFAULT_POLICY = r"""# Remediation Engine diagnostics policy: which commands a model may propose for a server.
# A person still approves every command; anything this policy does not allow is refused before
# anyone sees it. The default: a read-only set for every registered server.
version: 1
max_pipeline: 3
# Never readable, whatever a rule below allows.
deny_paths:
  - /proc/kcore
  - /proc/kmsg
  - "/proc/*/environ"
  - "/proc/*/mem"
  - "/proc/*/pagemap"
groups:
  - name: read-only
    description: Every registered server.
    servers: ["*"]
    environments: []
    commands:
      # -- disks and memory -------------------------------------------------------------------
      df:
        options: {-h: flag, -H: flag, -i: flag, -T: flag, -P: flag, -l: flag, -k: flag, -m: flag,
                  --human-readable: flag, --inodes: flag, --print-type: flag, --local: flag,
                  -t: {text: '^[a-z0-9.]{1,20}$'}, -x: {text: '^[a-z0-9.]{1,20}$'}}
        operands: {max: 8, paths: ["/**"]}
      du:
        options: {-s: flag, --summarize: flag, -h: flag, --human-readable: flag, -x: flag,
                  --one-file-system: flag, -c: flag, --total: flag, -k: flag, -m: flag,
                  --apparent-size: flag, -d: {int: [0, 3]}, --max-depth: {int: [0, 3]}}
        required: [[-s, --summarize, -d, --max-depth]]
        operands: {max: 8, paths: ["/**"]}
      free:
        options: {-h: flag, -m: flag, -g: flag, -k: flag, -b: flag, -w: flag, -t: flag, -l: flag,
                  --human: flag, --wide: flag, --total: flag, --si: flag}
      lsblk:
        options: {-f: flag, -a: flag, -b: flag, -d: flag, -m: flag, -p: flag, -t: flag, -l: flag,
                  -n: flag, -J: flag, -o: {text: '^[A-Za-z0-9,:+-]{1,200}$'},
                  --output: {text: '^[A-Za-z0-9,:+-]{1,200}$'}}
        operands: {max: 4, paths: ["/dev/*", "/dev/*/*"]}
      mount:
        operands: {max: 0}
      findmnt:
        options: {-l: flag, -n: flag, -D: flag, --df: flag, -o: {text: '^[A-Za-z0-9,:+-]{1,200}$'},
                  -t: {text: '^[a-z0-9.,]{1,60}$'}}
        operands: {max: 1, paths: ["/**"]}
      vmstat:
        options: {-w: flag, -a: flag, -d: flag, -s: flag, -t: flag, -S: {choice: [k, K, m, M]}}
        operands: {max: 2, int: [1, 10]}
      iostat:
        options: {-x: flag, -d: flag, -c: flag, -k: flag, -m: flag, -t: flag, -z: flag, -y: flag,
                  -N: flag, -h: flag}
        operands: {max: 3, text: '^([a-z][a-z0-9]{0,31}|[1-9])$'}
      # -- processes and the system -------------------------------------------------------------
      uptime:
        options: {-p: flag, -s: flag, --pretty: flag, --since: flag}
      uname:
        options: {-a: flag, -r: flag, -n: flag, -m: flag, -s: flag, -v: flag, -o: flag}
      nproc: {}
      lscpu: {}
      ps:
        options: {-e: flag, -A: flag, -f: flag, -F: flag, -l: flag, -y: flag, -H: flag, -w: flag,
                  -L: flag, -T: flag, --forest: flag, --no-headers: flag,
                  -o: {text: '^[A-Za-z0-9%,:=_-]{1,200}$'}, -p: {text: '^[0-9]{1,10}(,[0-9]{1,10}){0,20}$'},
                  -u: {text: '^[A-Za-z0-9_.-]{1,32}$'}, -C: {text: '^[A-Za-z0-9_.:@+-]{1,64}$'},
                  --sort: {text: '^[+-]?[A-Za-z%_]{1,20}(,[+-]?[A-Za-z%_]{1,20}){0,5}$'}}
        operands: {max: 1, choice: [aux, auxf, auxww, auxwww, axu, ax, axjf]}
      top:
        options: {-b: flag, -n: {int: [1, 1]}, -c: flag, -H: flag, -i: flag, -w: {int: [80, 512]},
                  -o: {text: '^[+-]?[A-Z%]{1,10}$'}}
        required: [[-b], [-n]]
      # -- sockets and the network ---------------------------------------------------------------
      ss:
        options: {-t: flag, -u: flag, -l: flag, -n: flag, -p: flag, -a: flag, -s: flag, -4: flag, -6: flag,
                  -x: flag, -w: flag, -i: flag, -m: flag, -e: flag, -o: flag, -H: flag, -O: flag,
                  --tcp: flag, --udp: flag, --listening: flag, --numeric: flag, --processes: flag,
                  --all: flag, --summary: flag, --info: flag, --memory: flag, --extended: flag,
                  --options: flag, --no-header: flag}
      netstat:
        options: {-t: flag, -u: flag, -l: flag, -n: flag, -p: flag, -a: flag, -s: flag, -r: flag,
                  -i: flag, -e: flag, -W: flag, -4: flag, -6: flag}
      ip:
        options: {-4: flag, -6: flag, -br: flag, -brief: flag, -s: flag, -stats: flag, -d: flag,
                  -details: flag, -j: flag, -json: flag, -p: flag, -pretty: flag, -o: flag, -oneline: flag}
        subcommands: [addr, address, a, route, r, link, l, neigh, n]
        operands:
          max: 4
          text: '^[A-Za-z0-9_.:/@-]{1,40}$'
          forbid: [add, append, change, del, delete, exec, flush, help, monitor, prepend, replace, restore,
                   save, set, update]
      # -- services and logs -----------------------------------------------------------------------
      systemctl:
        options: {--no-pager: flag, -l: flag, --full: flag, -n: {int: [0, 200]}, --lines: {int: [0, 200]},
                  --plain: flag, --no-legend: flag, -a: flag, --all: flag, --failed: flag,
                  -t: {text: '^[a-z,]{1,60}$'}, --type: {text: '^[a-z,]{1,60}$'},
                  --state: {text: '^[a-z,-]{1,60}$'}}
        subcommands: [status, is-active, is-failed, is-enabled, list-units, list-timers]
        operands: {max: 5, text: '^[A-Za-z0-9@._:-]{1,128}$'}
      journalctl:
        options:
          -n: {int: [1, 1000]}
          --lines: {int: [1, 1000]}
          --no-pager: flag
          -u: {text: '^[A-Za-z0-9@._:-]{1,128}$'}
          --unit: {text: '^[A-Za-z0-9@._:-]{1,128}$'}
          -t: {text: '^[A-Za-z0-9@._:-]{1,128}$'}
          --identifier: {text: '^[A-Za-z0-9@._:-]{1,128}$'}
          -p: &priorities {choice: [emerg, alert, crit, err, warning, notice, info, debug, 0, 1, 2, 3, 4, 5, 6, 7]}
          --priority: *priorities
          --since: {text: '^[A-Za-z0-9 :.+-]{1,40}$'}
          --until: {text: '^[A-Za-z0-9 :.+-]{1,40}$'}
          -g: {text: '^[A-Za-z0-9 _.:/@=-]{1,100}$'}
          --grep: {text: '^[A-Za-z0-9 _.:/@=-]{1,100}$'}
          -o: {choice: [short, short-iso, short-precise, short-monotonic, cat, verbose, json]}
          --output: {choice: [short, short-iso, short-precise, short-monotonic, cat, verbose, json]}
          -b: flag
          --boot: flag
          -k: flag
          --dmesg: flag
          -x: flag
          --catalog: flag
          -r: flag
          --reverse: flag
          -q: flag
          --quiet: flag
          --utc: flag
          --no-hostname: flag
        required: [[-n, --lines], [--no-pager]]
      dmesg:
        options: {-T: flag, --ctime: flag, -x: flag, --decode: flag, -k: flag, --kernel: flag, -u: flag,
                  --userspace: flag, -t: flag, --notime: flag, -l: {text: '^[a-z,]{1,60}$'},
                  --level: {text: '^[a-z,]{1,60}$'}, -f: {text: '^[a-z,]{1,60}$'},
                  --facility: {text: '^[a-z,]{1,60}$'}}
      tail:
        options: {-n: {int: [1, 2000]}, --lines: {int: [1, 2000]}, -q: flag, -v: flag}
        required: [[-n, --lines]]
        operands: &readable
          max: 4
          paths:
            - "/proc/*"
            - "/proc/pressure/*"
            - "/proc/net/*"
            - "/proc/sys/fs/*"
            - "/proc/sys/vm/*"
            - "/proc/[0-9]*/status"
            - "/proc/[0-9]*/limits"
            - "/proc/[0-9]*/io"
            - "/proc/[0-9]*/stat"
            - "/proc/[0-9]*/statm"
            - "/proc/[0-9]*/oom_score"
            - "/proc/[0-9]*/cgroup"
            - "/proc/[0-9]*/sched"
            - /etc/os-release
            - /etc/hostname
            - /etc/hosts
            - /etc/resolv.conf
            - /etc/fstab
            - "/var/log/*"
            - "/var/log/*/*"
      head:
        options: {-n: {int: [1, 2000]}, --lines: {int: [1, 2000]}, -c: {int: [1, 65536]}, -q: flag, -v: flag}
        operands: *readable
      cat:
        options: {-n: flag, -s: flag}
        operands: *readable
      # -- filters, only after a pipe ---------------------------------------------------------------
      grep:
        stdin_only: true
        options: {-i: flag, -v: flag, -c: flag, -E: flag, -F: flag, -w: flag, -x: flag, -n: flag,
                  -m: {int: [1, 1000]}}
        operands: {max: 1}
      wc:
        stdin_only: true
        options: {-l: flag, -c: flag, -w: flag, -m: flag}
      sort:
        stdin_only: true
        options: {-n: flag, -r: flag, -h: flag, -u: flag, -b: flag, -k: {text: '^[0-9]{1,2}(,[0-9]{1,2})?[bnrh]{0,3}$'}}
      uniq:
        stdin_only: true
        options: {-c: flag, -d: flag, -u: flag}
"""
