"""Preloaded by the extraction pool's server process (``pipeline.extraction_pool``).

multiprocessing's forkserver imports this module once, then forks every worker from
itself: the workers start with the extraction stack imported and with the language
profiles and topic taxonomy of the configured folder and the watchlists in force already
loaded, and share those pages of memory. A run with another configuration folder, or whose
watchlists changed meanwhile, still works: workers load them at their first page. The
server dies with the process that started the pool, and each worker with the server
(``news_ingest.processes.die_with_parent``).
"""

from news_ingest.pipeline import load_worker_state
from news_ingest.processes import die_with_pool_parent
from news_ingest.settings import get_settings

die_with_pool_parent()
load_worker_state(get_settings())
