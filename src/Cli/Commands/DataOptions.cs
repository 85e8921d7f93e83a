using System.CommandLine;
using MLNetFusion.AutoML;
using MLNetFusion.Datasets;

namespace MLNetFusion.Cli.Commands;

/// <summary>
/// The data options shared by <c>leaderboard</c>, <c>sweep</c> and <c>fit</c>: the files, the label and group, and roles
/// that override column inference.
/// </summary>
public sealed class DataOptions
{
    /// <summary>The training CSV.</summary>
    public Option<string?> Train { get; } = new("--train") { Description = "Training CSV with a header line (image and audio paths relative to its folder)." };
    /// <summary>The test CSV.</summary>
    public Option<string?> Test { get; } = new("--test") { Description = "Test CSV with the same header (else --test-fraction of the training rows are held out)." };
    /// <summary>The held-out share without a test file.</summary>
    public Option<double> TestFraction { get; } = new("--test-fraction") { Description = "Share of training rows held out for testing when there is no --test (whole groups with --group).", DefaultValueFactory = _ => 0.2 };
    /// <summary>The label column.</summary>
    public Option<string> Label { get; } = new("--label") { Description = "The label column.", DefaultValueFactory = _ => "Label" };
    /// <summary>The group column.</summary>
    public Option<string?> Group { get; } = new("--group") { Description = "Group column (speaker, site, patient): never a feature; results are judged on groups the model did not train on." };
    /// <summary>Folder for relative file paths.</summary>
    public Option<string?> DataFolder { get; } = new("--data-folder") { Description = "Folder that relative image and audio paths are resolved against (default: the training CSV's folder)." };
    /// <summary>Keep the trainable hashed-word text encoder.</summary>
    public Option<bool> NoPretrained { get; } = new("--no-pretrained") { Description = "Text and image columns keep the trainable encoders (hashed words, a CNN) instead of pretrained ones (all-MiniLM-L6-v2 sentence embeddings, ResNet18 ImageNet features)." };
    // Each role, and each modality kind with a column inference by its name (--image, --audio, a library's kind).
    private readonly (Option<string[]> option, string role)[] _roles = new (Option<string[]>, string)[]
        {
            (Many("--text", "Free-text column(s)."), nameof(ColumnRole.Text)), (Many("--numeric", "Numeric column(s)."), nameof(ColumnRole.Numeric)),
            (Many("--categorical", "Categorical column(s)."), nameof(ColumnRole.Categorical)), (Many("--ignore", "Column(s) not to use."), nameof(ColumnRole.Ignored)),
        }
        .Concat(ColumnInferenceOptions.InferableKinds.Select(k => (Many("--" + k.Name.ToLowerInvariant(), $"Column(s) of the modality kind {k.Name}."), k.Name)))
        .ToArray();

    private static Option<string[]> Many(string name, string description) => new(name)
    {
        Description = description + " Overrides inference.", AllowMultipleArgumentsPerToken = true, DefaultValueFactory = _ => Array.Empty<string>(),
    };

    /// <summary>Every option, to add to a command.</summary>
    public IEnumerable<Option> All => new Option[] { Train, Test, TestFraction, Label, Group, DataFolder, NoPretrained }.Concat(_roles.Select(r => r.option));

    /// <summary>Whether <c>--train</c> was given.</summary>
    public bool HasTrain(ParseResult r) => r.GetValue(Train) != null;

    /// <summary>Infers the roles of the training CSV, applies the overrides, and describes the dataset.</summary>
    public MultimodalDataset Build(ParseResult r)
    {
        var train = r.GetValue(Train) ?? throw new ArgumentException("No training file." + Environment.NewLine + "Hint: pass --train data/train.csv.");
        return MultimodalDataset.FromCsv(train, r.GetValue(Test), r.GetValue(Label)!, r.GetValue(Group), Roles(r), r.GetValue(TestFraction), r.GetValue(DataFolder),
            pretrained: !r.GetValue(NoPretrained));
    }

    /// <summary>The roles and kinds given on the command line (column → role or kind name); a column given two is an error.</summary>
    public Dictionary<string, string> Roles(ParseResult r)
    {
        var roles = new Dictionary<string, string>();
        foreach (var (option, role) in _roles)
            foreach (var column in r.GetValue(option) ?? Array.Empty<string>())
            {
                if (roles.TryGetValue(column, out var other) && other != role)
                    throw new ArgumentException($"Column '{column}' is given two roles ({other} and {role})." + Environment.NewLine + "Hint: name each column in one role option only.");
                roles[column] = role;
            }
        return roles;
    }
}
