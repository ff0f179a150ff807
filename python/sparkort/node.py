"""What executors report about a model: reservations and scoring metrics, as plain Python values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from py4j.java_gateway import JavaObject


@dataclass(frozen=True)
class ModelReservation:
    """A model loaded on one executor by ``OnnxModel.reserve`` (io.sparkort.ModelReservation)."""

    executor_id: str
    host: str
    #: How long the executor took to load the model, whether the reservation loaded it or a task before.
    load_millis: float
    #: Whether this reservation loaded the model; False when the executor had it open already.
    loaded_by_reservation: bool
    sessions: int
    intra_op_threads: int
    #: The executor process's resident memory after the load, in bytes (-1 without /proc).
    resident_bytes: int
    #: Times the executor has loaded this model (1 unless it was evicted and loaded again).
    loads: int

    @classmethod
    def from_java(cls, java: "JavaObject") -> "ModelReservation":
        return cls(
            executor_id=java.executorId(),
            host=java.host(),
            load_millis=java.loadMillis(),
            loaded_by_reservation=java.loadedByReservation(),
            sessions=java.sessions(),
            intra_op_threads=java.intraOpThreads(),
            resident_bytes=java.residentBytes(),
            loads=java.loads(),
        )


@dataclass(frozen=True)
class ScoringMetrics:
    """A snapshot of an ``OnnxModel``'s accumulators (io.sparkort.ScoringMetrics): every successful
    task of every job the model scored in the active SparkContext."""

    rows_scored: int
    #: Native calls (batches of up to ``batchSize`` rows).
    batches: int
    #: Nanoseconds tasks spent in the model's native calls, summed over tasks.
    model_nanos: int
    #: Times an executor read and initialised the model.
    model_loads: int
    model_load_nanos: int
    #: Bytes executors fetched into their model cache.
    model_bytes_fetched: int

    @classmethod
    def from_java(cls, java: "JavaObject") -> "ScoringMetrics":
        return cls(
            rows_scored=java.rowsScored(),
            batches=java.batches(),
            model_nanos=java.modelNanos(),
            model_loads=java.modelLoads(),
            model_load_nanos=java.modelLoadNanos(),
            model_bytes_fetched=java.modelBytesFetched(),
        )
