"""The shapes of the OpenSearch REST requests the backend sends, checked field by field.

Written from the OpenSearch API specification
(github.com/opensearch-project/opensearch-api-specification, commit fbe9ede,
spec/namespaces/_core.yaml and indices.yaml, spec/schemas/*.yaml): for each
operation, its method and path, the query parameters it accepts, and the
properties its request body may have (IndexSettings, TypeMapping,
update_aliases Action, bulk OperationContainer, SearchRequestBody,
QueryContainer, BoolQuery, TermQuery, FieldSort, FiltersAggregation).
`problems(method, path, query, body)` lists every way a request departs from
them; an empty list means the request is one the API documents.
"""

from __future__ import annotations

import json
import re
from typing import Any

_NAME = r"[a-z0-9][a-z0-9._-]*"

# operation: (method, path pattern, accepted query parameters)
OPERATIONS = {
    "indices.create": ("PUT", rf"/{_NAME}", {"cluster_manager_timeout", "master_timeout", "timeout", "wait_for_active_shards"}),
    "indices.delete": (
        "DELETE",
        rf"/{_NAME}",
        {"allow_no_indices", "cluster_manager_timeout", "expand_wildcards", "ignore_unavailable", "master_timeout", "timeout"},
    ),
    "indices.get_mapping": (
        "GET",
        rf"/{_NAME}/_mapping",
        {"allow_no_indices", "cluster_manager_timeout", "expand_wildcards", "ignore_unavailable", "index", "local",
         "master_timeout"},
    ),
    "indices.get_alias": ("GET", rf"/_alias/{_NAME}", {"allow_no_indices", "expand_wildcards", "ignore_unavailable", "local"}),
    "indices.put_settings": (
        "PUT",
        rf"/{_NAME}/_settings",
        {"allow_no_indices", "cluster_manager_timeout", "expand_wildcards", "flat_settings", "ignore_unavailable",
         "master_timeout", "preserve_existing", "timeout"},
    ),
    "indices.refresh": ("POST", rf"/{_NAME}/_refresh", {"allow_no_indices", "expand_wildcards", "ignore_unavailable"}),
    "indices.update_aliases": ("POST", r"/_aliases", {"cluster_manager_timeout", "master_timeout", "timeout"}),
    "count": (
        "POST",
        rf"/{_NAME}/_count",
        {"allow_no_indices", "analyze_wildcard", "analyzer", "default_operator", "df", "expand_wildcards",
         "ignore_throttled", "ignore_unavailable", "lenient", "min_score", "preference", "q", "routing", "terminate_after"},
    ),
    "bulk": (
        "POST",
        rf"/{_NAME}/_bulk",
        {"_source", "_source_excludes", "_source_includes", "index", "pipeline", "refresh", "require_alias", "routing",
         "timeout", "type", "wait_for_active_shards"},
    ),
    "search": (
        "POST",
        rf"/{_NAME}/_search",
        {"_source", "_source_excludes", "_source_includes", "allow_no_indices", "allow_partial_search_results",
         "analyze_wildcard", "analyzer", "batched_reduce_size", "cancel_after_time_interval", "ccs_minimize_roundtrips",
         "default_operator", "df", "docvalue_fields", "expand_wildcards", "explain", "from", "ignore_throttled",
         "ignore_unavailable", "include_named_queries_score", "index", "lenient", "max_concurrent_shard_requests",
         "phase_took", "pre_filter_shard_size", "preference", "q", "request_cache", "rest_total_hits_as_int", "routing",
         "scroll", "search_pipeline", "search_type", "seq_no_primary_term", "size", "sort", "stats", "stored_fields",
         "suggest_field", "suggest_mode", "suggest_size", "suggest_text", "terminate_after", "timeout", "track_scores",
         "track_total_hits", "typed_keys", "verbose_pipeline", "version"},
    ),
}

INDEX_SETTINGS = {
    "analysis", "auto_expand_replicas", "blocks", "codec", "default_pipeline", "final_pipeline", "hidden", "index",
    "mapping", "max_result_window", "max_terms_count", "merge", "number_of_replicas", "number_of_routing_shards",
    "number_of_shards", "queries", "refresh_interval", "routing", "search", "similarity", "sort", "store", "translog",
}
TYPE_MAPPING = {
    "_data_stream_timestamp", "_field_names", "_meta", "_routing", "_size", "_source", "all_field", "date_detection",
    "dynamic", "dynamic_date_formats", "dynamic_templates", "enabled", "index_field", "numeric_detection", "properties",
}
FIELD_TYPES = {"text", "keyword", "long", "integer", "short", "byte", "double", "float", "boolean", "date", "object"}
ADD_ACTION = {"alias", "aliases", "filter", "index", "index_routing", "indices", "is_hidden", "is_write_index",
              "must_exist", "routing", "search_routing"}
REMOVE_ACTION = {"alias", "aliases", "index", "indices", "must_exist"}
BULK_META = {"_id", "_index", "routing", "pipeline", "require_alias", "if_primary_term", "if_seq_no", "op_type",
             "version", "version_type"}
SEARCH_BODY = {
    "aggregations", "aggs", "collapse", "explain", "ext", "from", "highlight", "track_total_hits", "indices_boost",
    "docvalue_fields", "min_score", "post_filter", "profile", "search_pipeline", "verbose_pipeline", "query", "rescore",
    "script_fields", "search_after", "size", "slice", "sort", "_source", "fields", "suggest", "terminate_after",
    "timeout", "track_scores", "include_named_queries_score", "version", "seq_no_primary_term", "stored_fields", "pit",
    "stats", "derived",
}
BOOL_QUERY = {"_name", "boost", "adjust_pure_negative", "filter", "minimum_should_match", "must", "must_not", "should"}
TERM_QUERY = {"_name", "boost", "value", "case_insensitive"}
RANGE_QUERY = {"_name", "boost", "gt", "gte", "lt", "lte", "format", "relation", "time_zone"}
FIELD_SORT = {"missing", "mode", "nested", "numeric_type", "order", "unmapped_type"}
SEARCH_TYPES = {"dfs_query_then_fetch", "query_then_fetch"}


def operation_of(method: str, path: str) -> str | None:
    for name, (verb, pattern, _) in OPERATIONS.items():
        if verb == method and re.fullmatch(pattern, path) and not (name == "indices.create" and path.startswith("/_")):
            return name
    return None


def problems(method: str, path: str, query: dict[str, str], body: bytes) -> list[str]:
    """How the request departs from the documented shapes (empty when it does not)."""
    name = operation_of(method, path)
    if name is None:
        return [f"{method} {path} is no operation the backend may use"]
    found = [f"{name}: unknown query parameter {key!r}" for key in query if key not in OPERATIONS[name][2]]
    if name == "search" and "search_type" in query and query["search_type"] not in SEARCH_TYPES:
        found.append(f"search: search_type {query['search_type']!r} is not one of {sorted(SEARCH_TYPES)}")
    if name == "bulk":
        return found + _bulk(body)
    document = json.loads(body) if body else None
    checker = {
        "indices.create": _create,
        "indices.put_settings": lambda d: _settings(d, "put_settings"),
        "indices.update_aliases": _aliases,
        "count": _count,
        "search": _search,
    }.get(name)
    if checker is None:
        return found + ([f"{name}: takes no body"] if document is not None else [])
    if not isinstance(document, dict):
        return [*found, f"{name}: the body must be a JSON object"]
    return found + checker(document)


def _unknown(where: str, value: Any, allowed: set[str]) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object, got {type(value).__name__}"]
    return [f"{where}: unknown property {key!r}" for key in value if key not in allowed]


def _settings(settings: Any, where: str) -> list[str]:
    found = _unknown(where, settings, INDEX_SETTINGS)
    inner = settings.get("index", {}) if isinstance(settings, dict) else {}
    found += _unknown(f"{where}.index", inner, INDEX_SETTINGS)
    for name, similarity in (inner.get("similarity") or {}).items():
        if similarity.get("type") != "BM25" or not all(isinstance(similarity.get(p), (int, float)) for p in ("k1", "b")):
            found.append(f"{where}.index.similarity.{name}: expected type BM25 with numeric k1 and b")
    for name, analyzer in ((inner.get("analysis") or {}).get("analyzer") or {}).items():
        if analyzer.get("type") != "custom" or not isinstance(analyzer.get("tokenizer"), str):
            found.append(f"{where}.index.analysis.analyzer.{name}: expected a custom analyzer with a tokenizer")
    return found


def _create(body: dict) -> list[str]:
    found = _unknown("indices.create", body, {"aliases", "mappings", "settings"})
    found += _settings(body.get("settings", {}), "indices.create.settings")
    mappings = body.get("mappings", {})
    found += _unknown("indices.create.mappings", mappings, TYPE_MAPPING)
    for field, spec in (mappings.get("properties") or {}).items():
        if spec.get("type") not in FIELD_TYPES:
            found.append(f"indices.create.mappings.properties.{field}: unknown type {spec.get('type')!r}")
    return found


def _aliases(body: dict) -> list[str]:
    found = _unknown("indices.update_aliases", body, {"actions"})
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        return [*found, "indices.update_aliases.actions: expected a non-empty array"]
    for i, action in enumerate(actions):
        if not isinstance(action, dict) or len(action) != 1:
            found.append(f"indices.update_aliases.actions[{i}]: exactly one of add, remove, remove_index")
            continue
        ((kind, detail),) = action.items()
        allowed = {"add": ADD_ACTION, "remove": REMOVE_ACTION, "remove_index": {"index", "indices", "must_exist"}}.get(kind)
        if allowed is None:
            found.append(f"indices.update_aliases.actions[{i}]: unknown action {kind!r}")
        else:
            found += _unknown(f"indices.update_aliases.actions[{i}].{kind}", detail, allowed)
    return found


def _bulk(body: bytes) -> list[str]:
    if not body.endswith(b"\n"):
        return ["bulk: the NDJSON body must end with a newline"]
    lines = body.decode("utf-8").splitlines()
    found = []
    i = 0
    while i < len(lines):
        action = json.loads(lines[i])
        if not isinstance(action, dict) or len(action) != 1 or next(iter(action)) not in {"index", "create", "update", "delete"}:
            return [*found, f"bulk line {i + 1}: expected one of index, create, update, delete"]
        ((kind, meta),) = action.items()
        found += _unknown(f"bulk line {i + 1}.{kind}", meta, BULK_META)
        if kind == "delete":
            i += 1
            continue
        if i + 1 >= len(lines) or not isinstance(json.loads(lines[i + 1]), dict):
            return [*found, f"bulk line {i + 2}: expected the document after the {kind} action"]
        i += 2
    return found


def _count(body: dict) -> list[str]:
    return _unknown("count", body, {"query"}) + _query("count.query", body.get("query"))


def _query(where: str, query: Any) -> list[str]:
    if not isinstance(query, dict) or len(query) != 1:
        return [f"{where}: a query container holds exactly one query"]
    ((kind, detail),) = query.items()
    if kind == "bool":
        found = _unknown(f"{where}.bool", detail, BOOL_QUERY)
        for occur in ("should", "must", "filter", "must_not"):
            clauses = detail.get(occur, [])
            for i, clause in enumerate(clauses if isinstance(clauses, list) else [clauses]):
                found += _query(f"{where}.bool.{occur}[{i}]", clause)
        return found
    if kind in ("term", "range"):
        if not isinstance(detail, dict) or len(detail) != 1:
            return [f"{where}.{kind}: exactly one field"]
        ((field, value),) = detail.items()
        if kind == "term" and not isinstance(value, dict):
            return [] if isinstance(value, (str, int, float, bool)) else [f"{where}.term.{field}: bad value"]
        allowed = TERM_QUERY if kind == "term" else RANGE_QUERY
        found = _unknown(f"{where}.{kind}.{field}", value, allowed)
        if kind == "term" and "value" not in value:
            found.append(f"{where}.term.{field}: value is required")
        return found
    return [f"{where}: query {kind!r} is not one the backend should send"]


def _search(body: dict) -> list[str]:
    found = _unknown("search", body, SEARCH_BODY)
    if "query" in body:
        found += _query("search.query", body["query"])
    for i, sort in enumerate(body.get("sort", [])):
        if not isinstance(sort, dict) or len(sort) != 1:
            found.append(f"search.sort[{i}]: one field per sort entry")
            continue
        ((field, options),) = sort.items()
        found += _unknown(f"search.sort[{i}].{field}", options, {"order"} if field == "_score" else FIELD_SORT)
        if options.get("order") not in ("asc", "desc"):
            found.append(f"search.sort[{i}].{field}.order: asc or desc")
    for name, aggregation in (body.get("aggs") or {}).items():
        if set(aggregation) != {"filters"} or set(aggregation["filters"]) - {"filters", "other_bucket", "other_bucket_key"}:
            found.append(f"search.aggs.{name}: expected a filters aggregation")
            continue
        for key, query in aggregation["filters"]["filters"].items():
            found += _query(f"search.aggs.{name}.filters.{key}", query)
    return found
