"""Settings as deployments meet them. These run manage.py in subprocesses with a clean
environment, because settings are read once per process."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 20 + uuid.uuid4().hex + "Qz!9" * 5,
    "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "portal.example.test",
}


def clean_env(env: dict[str, str]) -> dict[str, str]:
    """Only what the test gives, so the developer's own variables cannot leak in."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}


def run(env: dict[str, str], *args: str, code: str | None = None, timeout: int = 120):
    clean = clean_env(env)
    command = [sys.executable, "-c", code] if code else [sys.executable, "manage.py", *args]
    return subprocess.run(
        command, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=timeout
    )


def django_code(body: str) -> str:
    return (
        "import django, os\nos.environ['DJANGO_SETTINGS_MODULE']='portal.settings'\n"
        "django.setup()\n" + textwrap.dedent(body)
    )


def test_check_deploy_has_nothing_that_matters_with_production_settings(tmp_path: Path):
    env = {
        **PRODUCTION,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = run(env, "check", "--deploy", "--fail-level", "WARNING")
    # HSTS preload is an opt-in commitment (README); everything else must be silent.
    assert result.returncode == 1 and result.stderr.count("security.W") == 1
    assert "security.W021" in result.stderr
    env["SECURE_HSTS_PRELOAD"] = "true"
    result = run(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "SECRETS_ENCRYPTION_KEYS", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(tmp_path: Path, missing: str):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}
    result = run({**env, "VAR_DIR": str(tmp_path)}, "check")
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing generated behind the operator's back


def test_development_generates_its_keys_once_and_keeps_them_private(tmp_path: Path):
    code = django_code(
        "from django.conf import settings\n"
        "print(settings.SECRET_KEY, settings.SECRETS_ENCRYPTION_KEYS[0])"
    )
    first = run({"VAR_DIR": str(tmp_path)}, code=code)
    second = run({"VAR_DIR": str(tmp_path)}, code=code)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    for name in ("secret_key", "secrets_encryption_keys"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600
    Fernet(first.stdout.split()[1].encode())  # a valid Fernet key


def test_encryption_keys_are_a_newest_first_list(tmp_path: Path):
    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    code = django_code("from django.conf import settings; print(settings.SECRETS_ENCRYPTION_KEYS)")
    result = run({"VAR_DIR": str(tmp_path), "SECRETS_ENCRYPTION_KEYS": f"{new}, {old}"}, code=code)
    assert result.stdout.strip() == str([new, old])


def test_sqlite_runs_in_wal_with_immediate_transactions_and_a_busy_timeout(tmp_path: Path):
    code = django_code("""
        from django.db import connection
        with connection.cursor() as c:
            c.execute('PRAGMA journal_mode'); mode = c.fetchone()[0]
            c.execute('PRAGMA busy_timeout'); timeout = c.fetchone()[0]
        print(mode, timeout, connection.settings_dict['OPTIONS']['transaction_mode'])
    """)
    result = run({"VAR_DIR": str(tmp_path)}, code=code)
    assert result.stdout.split() == ["wal", "20000", "IMMEDIATE"], result.stderr


def test_sqlite_takes_concurrent_writers_without_locking_errors(tmp_path: Path):
    """Web, workers and the scheduler write at once: three processes hammer one file."""
    env = {"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}"}
    assert run(env, "migrate", "-v0").returncode == 0
    writer = django_code("""
        import sys
        from django.db import transaction
        from portal.models import AuditEvent, Organization
        org = Organization.objects.get_or_create(name='Busy', defaults={'slug': 'busy'})[0]
        for i in range(60):
            with transaction.atomic():
                n = AuditEvent.objects.filter(organization=org).count()
                AuditEvent.objects.create(organization=org, action='w', actor_label=sys.argv[1],
                                          details={'seen': n})
    """)
    clean = clean_env(env)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", writer, str(i)],
            cwd=ROOT,
            env=clean,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(3)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    count = run(
        env,
        code=django_code(
            "from portal.models import AuditEvent\n"
            "print(AuditEvent.objects.filter(action='w').count())"
        ),
    )
    assert count.stdout.strip() == "180"


def test_email_url_configures_smtp(tmp_path: Path):
    code = django_code(
        "from django.conf import settings as s; "
        "print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)"
    )
    result = run(
        {"VAR_DIR": str(tmp_path), "EMAIL_URL": "smtp+tls://user:pw@mail.example.test:587"},
        code=code,
    )
    assert result.stdout.split() == [
        "django.core.mail.backends.smtp.EmailBackend",
        "mail.example.test",
        "587",
        "True",
    ]
    default = run({"VAR_DIR": str(tmp_path)}, code=code)
    assert default.stdout.split()[0] == "django.core.mail.backends.console.EmailBackend"


def _round_trip_through_a_real_cluster(env: dict[str, str]) -> str:
    """Start `manage.py qcluster`, queue a task from another process, wait for its result."""
    assert run(env, "migrate", "-v0").returncode == 0
    clean = clean_env(env)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        result = run(
            env,
            code=django_code("""
            import time
            from django.conf import settings
            from django_q.brokers import get_broker
            from django_q.tasks import async_task, result
            task_id = async_task('math.hypot', 3, 4)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and result(task_id) is None:
                time.sleep(0.2)
            print(type(get_broker()).__name__, result(task_id))
        """),
            timeout=90,
        )
    finally:
        cluster.terminate()
        cluster.wait(timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_jobs_run_through_the_orm_broker_by_default(tmp_path: Path):
    env = {"VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'q.sqlite3'}"}
    assert _round_trip_through_a_real_cluster(env) == "ORM 5.0"


def test_jobs_run_through_redis_when_redis_url_is_set(tmp_path: Path):
    # A database number of its own and a unique queue name keep parallel runs apart.
    env = {
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'r.sqlite3'}",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "Q_CLUSTER_NAME": f"t{uuid.uuid4().hex}",
    }
    started = time.monotonic()
    assert _round_trip_through_a_real_cluster(env) == "Redis 5.0"
    assert time.monotonic() - started < 120


@pytest.mark.parametrize(
    ("value", "expected"), [(None, "5"), ("2", "2"), ("0", "0"), ("off", "None"), ("", "None")]
)
def test_prepare_threshold_on_postgresql(tmp_path: Path, value: str | None, expected: str):
    """DATABASE_PREPARE_THRESHOLD: how many runs before a repeated API query is a prepared
    statement (5), or `off` for a pooling proxy without prepared statements. No connection
    is made to read it."""
    env = {"VAR_DIR": str(tmp_path), "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none"}
    if value is not None:
        env["DATABASE_PREPARE_THRESHOLD"] = value
    code = django_code("""
        from django.conf import settings
        print(settings.DATABASES['default']['OPTIONS']['prepare_threshold'])
    """)
    result = run(env, code=code)
    assert result.stdout.split() == [expected], result.stderr


def test_a_bad_prepare_threshold_is_refused_clearly(tmp_path: Path):
    env = {
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/none",
        "DATABASE_PREPARE_THRESHOLD": "five",
    }
    result = run(env, code=django_code("print('loaded')"))
    assert result.returncode != 0 and "loaded" not in result.stdout
    assert "DATABASE_PREPARE_THRESHOLD must be a whole number or 'off'" in result.stderr
