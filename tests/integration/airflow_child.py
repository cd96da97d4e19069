"""Runs inside a child process whose environment points Airflow at a scratch home.

Airflow reads its configuration at import time, so each test drives it through this
script rather than importing it into the pytest process. Prints one ``RESULT {json}`` line.
"""

from __future__ import annotations

import json
import sys


def main(dags_folder: str, dag_id: str | None, conf: str | None) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=dags_folder)
    result: dict[str, object] = {
        "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
        "dag_ids": sorted(bag.dag_ids),
    }
    if dag_id:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        dag = bag.get_dag(dag_id)
        assert dag is not None, f"no DAG {dag_id}"
        run = dag.test(run_conf=json.loads(conf) if conf else None)
        with create_session() as session:
            instances = (
                session.query(TaskInstance)
                .filter(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
                .all()
            )
            result["task_states"] = {
                f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in instances
            }
        result["state"] = str(run.state)
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    dag_id = sys.argv[2] if len(sys.argv) > 2 else None
    conf = sys.argv[3] if len(sys.argv) > 3 else None
    main(sys.argv[1], dag_id, conf)
