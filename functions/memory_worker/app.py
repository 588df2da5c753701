"""Memory worker: runs add jobs from SQS (extraction, update decisions, storage).

Failed messages are reported as partial batch failures, so SQS retries only those and moves
them to the dead-letter queue after the configured receive count.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from voice_agent.memory import wiring, worker
from voice_agent.memory.models import JobMessage
from voice_agent.observability import logger, metrics, publish_metrics, traced

# A batch whose every message failed is reported like a partial failure (all ids listed), not
# raised: SQS retries exactly those messages either way, and the dead-letter queue's alarm
# reports messages that keep failing.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> None:
    # The user id in the message was put there by the memory function from the verified JWT.
    message = JobMessage.model_validate_json(record.body)
    # The job id is what the client polls and the memory function logged when queuing: it
    # ties this job's log lines to that request.
    logger.set_correlation_id(message.job_id)
    result = worker.run_job(message, wiring.memory_deps())
    logger.info("memory job finished", extra={"status": result.status,
                                              "results": len(result.results)})
    metrics.add_metric(name="MemoryJobsDone" if result.status == "done" else "MemoryJobsFailed",
                       unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@publish_metrics
@traced
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler,
                                    processor=processor, context=context)
