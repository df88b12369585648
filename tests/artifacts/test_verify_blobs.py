"""`manage.py verify_blobs`: a scrub of the stored bytes against their SHA-256 and size."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from artifacts.models import Blob, BlobStatus
from tests.factories import log_version


def logged(project, *contents: bytes) -> list[Blob]:
    return [log_version(project, f"a{i}", content=c).files.get().blob for i, c in enumerate(contents)]


def test_it_marks_bad_and_missing_blobs_lists_them_and_exits_non_zero(project, file_storage):
    good, bad, gone = logged(project, b"good", b"flipped", b"gone")
    (file_storage / bad.storage_key).write_bytes(b"flopped")
    (file_storage / gone.storage_key).unlink()
    Blob.objects.update(verified_at=None)
    out = StringIO()
    with pytest.raises(CommandError, match=r"Checked 3 blob\(s\): 1 ok, 1 bad, 1 missing\."):
        call_command("verify_blobs", stdout=out)
    assert out.getvalue().splitlines() == [f"bad {bad.sha256} (7 bytes)", f"missing {gone.sha256} (4 bytes)"]
    assert dict(Blob.objects.values_list("sha256", "status")) == {
        good.sha256: BlobStatus.OK,
        bad.sha256: BlobStatus.BAD,
        gone.sha256: BlobStatus.MISSING,
    }
    assert not Blob.objects.filter(verified_at__isnull=True).exists()


def test_a_blob_whose_bytes_are_back_is_marked_ok_again(project, file_storage):
    (blob,) = logged(project, b"weights")
    moved = file_storage / "moved"
    (file_storage / blob.storage_key).rename(moved)
    with pytest.raises(CommandError):
        call_command("verify_blobs", stdout=StringIO())
    moved.rename(file_storage / blob.storage_key)
    out = StringIO()
    call_command("verify_blobs", stdout=out)
    assert out.getvalue().strip() == "Checked 1 blob(s): 1 ok, 0 bad, 0 missing."
    blob.refresh_from_db()
    assert blob.status == BlobStatus.OK


def test_a_sample_checks_only_that_many_blobs(project):
    logged(project, b"one", b"two", b"three")
    Blob.objects.update(verified_at=None)
    out = StringIO()
    call_command("verify_blobs", "--sample=2", stdout=out)
    assert out.getvalue().strip() == "Checked 2 blob(s): 2 ok, 0 bad, 0 missing."
    assert Blob.objects.filter(verified_at__isnull=False).count() == 2


def test_a_sample_must_be_positive(db):
    with pytest.raises(CommandError, match="at least 1"):
        call_command("verify_blobs", "--sample=0")
