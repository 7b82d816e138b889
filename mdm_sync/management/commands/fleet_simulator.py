from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from mdm_sync.simulator import SITUATION_SHARES, FleetSimulator


class Command(BaseCommand):
    help = ("Run the Fleet simulator (a fake FleetDM REST API on loopback) in the foreground until Ctrl-C. "
            "Point the cockpit's Fleet URL and API token at the printed values.")
    requires_system_checks = []  # touches no models or database; starts in a blink

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, required=True, help="TCP port; 0 picks a free one")
        parser.add_argument("--hosts", type=int, default=200, help="generated hosts (ids 1..N)")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same fleet")
        parser.add_argument("--token", default="sim-token", help="the Bearer token the simulator accepts")
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--email-domain", default="demo.test", help="domain of the generated employees' e-mails")
        parser.add_argument("--now", type=datetime.fromisoformat, default=None,
                            help="fixed clock (ISO 8601, e.g. 2025-01-01T12:00:00+00:00): same seed and now, same "
                                 "JSON; default: the real clock")
        parser.add_argument("--vary", type=float, default=0.0, metavar="PERCENT",
                            help="change os_version of this share of the hosts, spread evenly over the ids "
                                 "(benchmarks: a fleet where PERCENT %% of the hosts changed)")
        parser.add_argument("--apns", choices=FleetSimulator.APNS_STATES, default="valid",
                            help="the Apple push certificate GET /api/v1/fleet/apns reports: valid (200 days "
                                 "left), expiring (10 days), expired, or not_configured (404)")

    def handle(self, *args, port, hosts, seed, token, host, email_domain, now, vary, apns="valid", **options):
        if not 0 <= port <= 65535:
            raise CommandError("--port must be between 0 and 65535.")
        if hosts < 0:
            raise CommandError("--hosts must be zero or more.")
        if not 0 <= vary <= 100:
            raise CommandError("--vary must be between 0 and 100.")
        simulator = FleetSimulator(hosts=hosts, seed=seed, token=token, host=host, port=port,
                                   email_domain=email_domain, now=now)
        simulator.set_apns(apns)
        # Host i is varied when the running count floor(i * PERCENT / 100) steps up: exactly
        # floor(hosts * PERCENT / 100) hosts, evenly spread (every 10th id for 10 %).
        varied = [i for i in range(1, hosts + 1)
                  if int(i * vary / 100) != int((i - 1) * vary / 100)] if vary else []
        for host_id in varied:
            simulator.update_host(host_id, os_version=f"Varied OS {host_id}")
        try:
            simulator.bind()
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        self.stdout.write(f"Fleet simulator listening on {simulator.base_url}")
        self.stdout.write(f"API token: {token}")
        self.stdout.write(f"Apple push certificate: {apns}")
        if varied:
            self.stdout.write(f"{len(varied)} hosts varied (os_version changed).")
        self.stdout.write(f"{hosts} hosts (seed {seed}); employees 1..{simulator.employee_count} like "
                          f"{FleetSimulator.employee_email(1, email_domain)}; "
                          f"situations per 100 hosts: {', '.join(f'{k} {v}' for k, v in SITUATION_SHARES.items())}")
        self.stdout.write("Press Ctrl-C to stop.")
        self.stdout.flush()
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            self.stdout.write("Fleet simulator stopped.")
