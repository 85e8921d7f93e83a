namespace MLNetFusion.AutoML.Sweep;

/// <summary>The learner after <c>Concatenate</c> in early fusion (a sweep parameter; any ML.NET trainer works by hand).</summary>
public enum EarlyFusionLearner
{
    /// <summary>ML.NET's LightGBM multiclass trainer.</summary>
    LightGbm,
    /// <summary>ML.NET's L-BFGS maximum entropy (multinomial logistic regression), after min-max normalisation.</summary>
    LbfgsMaximumEntropy,
    /// <summary>MLNetFusion's TorchSharp MLP (<see cref="Trainers.Early.FusionMlpTrainer"/>).</summary>
    FusionMlp,
}
