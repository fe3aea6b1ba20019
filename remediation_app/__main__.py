from remediation_app.cli import main

# Guarded: a worker started with multiprocessing's "spawn" re-imports this module (as __mp_main__).
if __name__ == "__main__":
    raise SystemExit(main())
