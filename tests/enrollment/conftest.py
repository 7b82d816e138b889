import pytest

from enrollment import dispatch, tasks


@pytest.fixture(autouse=True)
def _celery_eager(settings):
    """Enrollment queues its e-mails as Celery tasks after commit (the sign-in code, bulk invitations): here
    they run in the test's process, so ``mail.outbox`` holds them once the on-commit callbacks ran."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


class Queued(list):
    """The chunk tasks queued (not run), by name as the services queue them: [(task, args)]. ``run`` applies the
    next ones as a worker would (a chunk queues the next once it committed), ``run_all`` until none is left."""

    def __init__(self, capture):
        super().__init__()
        self.capture, self.cursor = capture, 0

    def run(self, count: int = 1) -> list:
        results = []
        for _ in range(count):
            task, args = self[self.cursor]
            self.cursor += 1
            with self.capture(execute=True):
                results.append(task.apply(args=args).get())
        return results

    def run_all(self) -> list:
        return self.run(len(self) - self.cursor) + (self.run_all() if len(self) > self.cursor else [])


@pytest.fixture
def queued(monkeypatch, django_capture_on_commit_callbacks):
    calls = Queued(django_capture_on_commit_callbacks)
    by_name = {task.name: task for task in (tasks.invitation_chunk_task, tasks.fix_instructions_chunk_task)}
    monkeypatch.setattr(dispatch, "enqueue", lambda name, *args: calls.append((by_name[name], args)))
    return calls
