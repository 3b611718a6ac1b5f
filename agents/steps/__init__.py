"""One file per cognitive step: perceive, plan, react, converse, act, reflect (and the eval judge)."""
