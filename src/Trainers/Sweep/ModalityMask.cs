using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetFusion.Mapping;

namespace MLNetFusion.Trainers.Sweep;

/// <summary>
/// Hides one modality: replaces a <c>Vector&lt;Single&gt;</c> column by an all-NaN column of the same type (MLNetFusion's
/// missing-modality convention). The sweep uses it to measure how each trial copes when a modality is missing.
/// </summary>
internal sealed class ModalityMask : BatchMappingTransformer
{
    private readonly string _column;

    public ModalityMask(string column) : base(256) => _column = column;

    protected override IReadOnlyList<OutputColumn> GetOutputColumns(DataViewSchema inputSchema)
    {
        var col = Data.SchemaErrors.FindColumn(inputSchema, _column);
        Data.SchemaErrors.RequireFloatVector(inputSchema, _column);
        return new[] { new OutputColumn(_column, col.Type, col.Annotations) };
    }

    protected override BatchMapper CreateMapper(DataViewSchema inputSchema, int capacity) => new Mapper(((VectorDataViewType)inputSchema[_column].Type).Size);

    private sealed class Mapper : BatchMapper
    {
        private readonly int _size;
        public Mapper(int size) => _size = size;
        public override IReadOnlyList<string> InputColumns => Array.Empty<string>();
        public override void Bind(DataViewRow input) { }
        public override void ReadRow(int slot, long position) { }
        public override void Compute(int count, bool[] active) { }
        public override Delegate GetOutputGetter(int output, Func<int> slot) => (ValueGetter<VBuffer<float>>)((ref VBuffer<float> dst) =>
        {
            var editor = VBufferEditor.Create(ref dst, _size);
            editor.Values.Fill(float.NaN);
            dst = editor.Commit();
        });
    }
}
