def topological_order(root):
    order, seen = [], set()
    stack = [(root, False)]
    while stack:  # iterative depth-first search: a node is emitted after everything it leads to
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for nxt, _ in node.next_functions:
            if nxt is not None and type(nxt).__name__ != "AccumulateGrad" and nxt not in seen:
                stack.append((nxt, False))
    return order[::-1]
