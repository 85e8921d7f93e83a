using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNetFusion.Mapping;

/// <summary>
/// Holds copies of one column's values for a block of rows, so that a cursor can read ahead a batch of rows for a
/// batched computation and still serve each row's pass-through columns when it is reached.
/// </summary>
internal abstract class ColumnBuffer
{
    public abstract void Read(int slot);
    public abstract Delegate Getter(Func<int> slot);

    public static ColumnBuffer Create(DataViewRow row, DataViewSchema.Column column, int capacity)
    {
        var raw = column.Type.RawType;
        MethodInfo m;
        if (raw.IsGenericType && raw.GetGenericTypeDefinition() == typeof(VBuffer<>))
            m = typeof(ColumnBuffer).GetMethod(nameof(CreateVector), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(raw.GetGenericArguments()[0]);
        else
            m = typeof(ColumnBuffer).GetMethod(nameof(CreateValue), BindingFlags.NonPublic | BindingFlags.Static)!.MakeGenericMethod(raw);
        return (ColumnBuffer)m.Invoke(null, new object[] { row, column, capacity })!;
    }

    private static ColumnBuffer CreateValue<T>(DataViewRow row, DataViewSchema.Column column, int capacity)
        => new ValueBuffer<T>(row.GetGetter<T>(column), capacity);

    private static ColumnBuffer CreateVector<T>(DataViewRow row, DataViewSchema.Column column, int capacity)
        => new VectorBuffer<T>(row.GetGetter<VBuffer<T>>(column), capacity);

    private sealed class ValueBuffer<T> : ColumnBuffer
    {
        private readonly ValueGetter<T> _getter;
        private readonly T[] _values;
        public ValueBuffer(ValueGetter<T> getter, int capacity) { _getter = getter; _values = new T[capacity]; }
        public override void Read(int slot) => _getter(ref _values[slot]);
        public override Delegate Getter(Func<int> slot) => (ValueGetter<T>)((ref T dst) => dst = _values[slot()]);
    }

    private sealed class VectorBuffer<T> : ColumnBuffer
    {
        private readonly ValueGetter<VBuffer<T>> _getter;
        private readonly VBuffer<T>[] _values;
        private VBuffer<T> _scratch;
        public VectorBuffer(ValueGetter<VBuffer<T>> getter, int capacity) { _getter = getter; _values = new VBuffer<T>[capacity]; }
        public override void Read(int slot)
        {
            _getter(ref _scratch);
            _scratch.CopyTo(ref _values[slot]);
        }
        public override Delegate Getter(Func<int> slot) => (ValueGetter<VBuffer<T>>)((ref VBuffer<T> dst) => _values[slot()].CopyTo(ref dst));
    }
}
