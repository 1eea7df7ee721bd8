"""The pickle inside a torch.save file, read and written without Python's pickle machinery.

Python's unpickler calls whatever function a file names (``os.system``
included), so gradlab never hands it a file.  ``unpickle`` below is a small
interpreter of the opcodes that ``torch.save`` emits (protocol 2, plus the
few protocol 3-5 ones that carry the same data), with three rules that make it
safe:

* ``GLOBAL`` goes through ``find_global``, which answers only for an
  allow-list and raises, naming the global, for anything else;
* ``REDUCE`` (a call) accepts only an ``Allowed`` function that came from
  ``find_global``: gradlab's own constructors, which check their arguments;
* containers are only built by their own opcodes (``APPENDS`` needs a list,
  ``SETITEMS`` a dict, ``BUILD`` only sets an OrderedDict's ``_metadata``).

Every length is checked against the bytes that remain, and the interpreter
never recurses, so a forged pickle can neither allocate what it does not hold
nor exhaust the stack.  ``Pickler`` writes the same opcodes back.
"""
import collections
import pickletools
import struct

from .format import SerializationError

__all__ = ["Allowed", "unpickle", "Pickler"]


class Allowed:
    """An allow-listed global: ``fn`` is called by REDUCE (None: it may not be called)."""
    __slots__ = ("name", "fn")

    def __init__(self, name, fn=None):
        self.name, self.fn = name, fn

    def __repr__(self):
        return f"<allowed global {self.name}>"


_MARK = object()  # a MARK on the stack


def _refuse(message):
    return SerializationError(f"refused pickle: {message}")


def unpickle(data, find_global, persistent_load):
    """The object a pickle describes; ``data`` is the pickle's bytes."""
    reader = _Reader(data)
    try:
        return reader.run(find_global, persistent_load)
    except (IndexError, KeyError, TypeError, ValueError, OverflowError) as error:
        if isinstance(error, SerializationError):
            raise
        raise SerializationError(f"corrupted pickle near byte {reader.op_at} ({reader.op_name}): "
                                 f"{type(error).__name__}: {error}") from None


class _Reader:
    def __init__(self, data):
        self.data, self.pos = memoryview(data), 0
        self.op_at, self.op_name = 0, "start"

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise SerializationError(f"truncated pickle: {self.op_name} at byte {self.op_at} needs {n} bytes, "
                                     f"{len(self.data) - self.pos} remain")
        piece = self.data[self.pos:self.pos + n]
        self.pos += n
        return piece

    def unsigned(self, n):
        return int.from_bytes(self.take(n), "little")

    def line(self):
        end = bytes(self.data[self.pos:self.pos + 256]).find(b"\n")
        if end < 0:
            raise SerializationError(f"corrupted pickle: {self.op_name} at byte {self.op_at} has no end of line")
        return bytes(self.take(end + 1)[:-1]).decode("utf-8")

    def run(self, find_global, persistent_load):
        stack, marks, memo = [], [], {}

        def pop_mark():
            items = stack[marks[-1] + 1:]
            del stack[marks.pop():]
            return items

        while True:
            self.op_at = self.pos
            code = bytes(self.take(1))
            info = pickletools.code2op.get(code.decode("latin-1"))
            self.op_name = info.name if info else f"unknown opcode {code!r}"
            op = code[0]
            if op == 0x80:  # PROTO
                if self.unsigned(1) > 5:
                    raise _refuse("pickle protocol newer than 5")
            elif op == 0x95:  # FRAME: a length hint only
                self.take(8)
            elif op == 0x2E:  # STOP
                if len(stack) != 1 or marks:
                    raise SerializationError(f"corrupted pickle: STOP with {len(stack)} values on the stack")
                return stack[0]
            elif op == 0x28:  # MARK
                marks.append(len(stack))
                stack.append(_MARK)
            elif op == 0x30:  # POP
                if stack.pop() is _MARK:
                    marks.pop()
            elif op == 0x31:  # POP_MARK
                pop_mark()
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op in (0x88, 0x89):  # NEWTRUE, NEWFALSE
                stack.append(op == 0x88)
            elif op == 0x4B:  # BININT1
                stack.append(self.unsigned(1))
            elif op == 0x4D:  # BININT2
                stack.append(self.unsigned(2))
            elif op == 0x4A:  # BININT
                stack.append(int.from_bytes(self.take(4), "little", signed=True))
            elif op in (0x8A, 0x8B):  # LONG1, LONG4
                n = self.unsigned(1 if op == 0x8A else 4)
                stack.append(int.from_bytes(self.take(n), "little", signed=True))
            elif op == 0x47:  # BINFLOAT
                stack.append(struct.unpack(">d", self.take(8))[0])
            elif op in (0x58, 0x8C, 0x8D):  # BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                n = self.unsigned({0x58: 4, 0x8C: 1, 0x8D: 8}[op])
                stack.append(str(self.take(n), "utf-8", "surrogatepass"))
            elif op in (0x42, 0x43, 0x8E):  # BINBYTES, SHORT_BINBYTES, BINBYTES8
                n = self.unsigned({0x42: 4, 0x43: 1, 0x8E: 8}[op])
                stack.append(bytes(self.take(n)))
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op in (0x85, 0x86, 0x87):  # TUPLE1, TUPLE2, TUPLE3
                n = op - 0x84
                if len(stack) < n or any(x is _MARK for x in stack[len(stack) - n:]):
                    raise SerializationError(f"corrupted pickle: {self.op_name} needs {n} values")
                items = tuple(stack[len(stack) - n:])
                del stack[len(stack) - n:]
                stack.append(items)
            elif op == 0x74:  # TUPLE
                stack.append(tuple(pop_mark()))
            elif op == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif op == 0x6C:  # LIST
                stack.append(pop_mark())
            elif op == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif op == 0x64:  # DICT
                stack.append(_pairs_into({}, pop_mark()))
            elif op == 0x61:  # APPEND
                item = stack.pop()
                _list(stack[-1], self.op_name).append(item)
            elif op == 0x65:  # APPENDS
                items = pop_mark()
                _list(stack[-1], self.op_name).extend(items)
            elif op == 0x73:  # SETITEM
                value, key = stack.pop(), stack.pop()
                _pairs_into(_dict(stack[-1], self.op_name), [key, value])
            elif op == 0x75:  # SETITEMS
                items = pop_mark()
                _pairs_into(_dict(stack[-1], self.op_name), items)
            elif op in (0x71, 0x72, 0x94):  # BINPUT, LONG_BINPUT, MEMOIZE
                index = len(memo) if op == 0x94 else self.unsigned(1 if op == 0x71 else 4)
                if stack[-1] is _MARK:
                    raise SerializationError("corrupted pickle: memoizing a MARK")
                memo[index] = stack[-1]
            elif op in (0x68, 0x6A):  # BINGET, LONG_BINGET
                index = self.unsigned(1 if op == 0x68 else 4)
                if index not in memo:
                    raise SerializationError(f"corrupted pickle: {self.op_name} of memo entry {index}, never stored")
                stack.append(memo[index])
            elif op == 0x63:  # GLOBAL
                module = self.line()
                stack.append(find_global(module, self.line()))
            elif op == 0x93:  # STACK_GLOBAL
                name, module = stack.pop(), stack.pop()
                if type(module) is not str or type(name) is not str:
                    raise SerializationError("corrupted pickle: STACK_GLOBAL needs two strings")
                stack.append(find_global(module, name))
            elif op == 0x52:  # REDUCE
                args, fn = stack.pop(), stack.pop()
                if type(fn) is not Allowed or fn.fn is None:
                    raise _refuse(f"the file calls {fn!r}, which is not an allowed function")
                if type(args) is not tuple:
                    raise SerializationError(f"corrupted pickle: {fn.name} called with {type(args).__name__}")
                stack.append(fn.fn(*args))
            elif op == 0x62:  # BUILD
                state = stack.pop()
                _build(stack[-1], state)
            elif op == 0x51:  # BINPERSID
                stack.append(persistent_load(stack.pop()))
            else:
                raise _refuse(f"opcode {self.op_name} at byte {self.op_at} is not allowed in a weights file")
            if len(marks) > len(stack):
                raise SerializationError("corrupted pickle: unbalanced MARK")


def _list(target, op):
    if type(target) is not list:
        raise _refuse(f"{op} on {type(target).__name__}; only a list can be appended to")
    return target


def _dict(target, op):
    if type(target) not in (dict, collections.OrderedDict):
        raise _refuse(f"{op} on {type(target).__name__}; only a dict can be filled")
    return target


def _pairs_into(mapping, items):
    if len(items) % 2:
        raise SerializationError("corrupted pickle: a dict with a key but no value")
    for key, value in zip(items[0::2], items[1::2]):
        mapping[key] = value
    return mapping


def _build(target, state):
    """BUILD: only a state_dict's ``_metadata`` (module versions) may be set."""
    if (type(target) is not collections.OrderedDict or type(state) is not dict or set(state) != {"_metadata"}):
        keys = sorted(map(repr, state)) if isinstance(state, dict) else type(state).__name__
        raise _refuse(f"BUILD sets the state {keys} of a {type(target).__name__}; only an OrderedDict's "
                      f"_metadata may be set")
    target._metadata = state["_metadata"]


# ============================================================================ writing
class Pickler:
    """Protocol-2 opcodes for a nested structure of Python values.

    ``special(pickler, obj, where)`` writes any other value it knows (tensors,
    sizes, dtypes) and returns True, or returns False for an unsupported one.
    """

    def __init__(self, special):
        self.out = bytearray(b"\x80\x02")
        self._special = special
        self._memo, self._open = {}, set()

    def dump(self, obj):
        try:
            self.value(obj, "obj")
        except RecursionError:
            raise ValueError("gradlab.save: the object is nested too deeply for format='torch'") from None
        self.out += b"."
        return bytes(self.out)

    def global_(self, module, name):
        self.out += f"c{module}\n{name}\n".encode("ascii")

    def call(self, module, name, *args, where="obj"):
        """``module.name(*args)``: GLOBAL, the argument tuple, REDUCE."""
        self.global_(module, name)
        self.value(tuple(args), where)
        self.out += b"R"

    def value(self, obj, where):
        out, kind = self.out, type(obj)
        if obj is None:
            out += b"N"
        elif kind is bool:
            out += b"\x88" if obj else b"\x89"
        elif kind is int:
            self._int(obj)
        elif kind is float:
            out += b"G" + struct.pack(">d", obj)
        elif kind is str:
            raw = obj.encode("utf-8", "surrogatepass")
            out += b"X" + struct.pack("<I", len(raw)) + raw
        elif kind in (list, tuple, dict, collections.OrderedDict):
            self._container(obj, where)
        elif not self._special(self, obj, where):
            raise TypeError(f"gradlab.save(format='torch'): cannot save {kind.__module__}.{kind.__qualname__} at "
                            f"{where}; supported: None, bool, int, float, str, list, tuple, dict, OrderedDict, "
                            "Tensor, nn.Parameter, Size, dtype, device")

    def recall(self, obj):
        """Write a reference to ``obj`` if it was remembered; True if so."""
        if id(obj) not in self._memo:
            return False
        self.out += b"j" + struct.pack("<I", self._memo[id(obj)][0])
        return True

    def remember(self, obj):
        """Memoize the value just written as ``obj`` (kept alive, so its id stays unique)."""
        self._memo[id(obj)] = (len(self._memo), obj)
        self.out += b"r" + struct.pack("<I", len(self._memo) - 1)

    def _int(self, x):
        if 0 <= x < 256:
            self.out += b"K" + bytes([x])
        elif 0 <= x < 65536:
            self.out += b"M" + struct.pack("<H", x)
        elif -2 ** 31 <= x < 2 ** 31:
            self.out += b"J" + struct.pack("<i", x)
        else:
            raw = x.to_bytes(x.bit_length() // 8 + 1, "little", signed=True)
            self.out += (b"\x8a" + bytes([len(raw)]) if len(raw) < 256 else b"\x8b" + struct.pack("<I", len(raw)))
            self.out += raw

    def _container(self, obj, where):
        if id(obj) in self._open:
            raise ValueError(f"gradlab.save: {where} contains itself; a cyclic structure cannot be saved")
        self._open.add(id(obj))
        out, kind = self.out, type(obj)
        if kind is tuple:
            if len(obj) <= 3:
                for i, item in enumerate(obj):
                    self.value(item, f"{where}[{i}]")
                out += (b")", b"\x85", b"\x86", b"\x87")[len(obj)]
            else:
                out += b"("
                for i, item in enumerate(obj):
                    self.value(item, f"{where}[{i}]")
                out += b"t"
        elif kind is list:
            out += b"]"
            if obj:
                out += b"("
                for i, item in enumerate(obj):
                    self.value(item, f"{where}[{i}]")
                out += b"e"
        else:
            if kind is dict:
                out += b"}"
            else:
                self.global_("collections", "OrderedDict")
                out += b")R"
            if obj:
                out += b"("
                for key, item in obj.items():
                    self.value(key, f"{where} (the key {key!r})")
                    self.value(item, f"{where}[{key!r}]")
                out += b"u"
            if kind is collections.OrderedDict and "_metadata" in vars(obj):
                out += b"}X\x09\x00\x00\x00_metadata"
                self.value(obj._metadata, f"{where}._metadata")
                out += b"sb"  # SETITEM, then BUILD: a state_dict's per-module versions
        self._open.discard(id(obj))
