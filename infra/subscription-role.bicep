// Curfew's prices role on one subscription (main.bicep calls this module once per subscription that holds
// a workspace, with scope: subscription(id)). Azure ML's VM size list with its prices is a subscription-scope
// path (/subscriptions/{s}/providers/Microsoft.MachineLearningServices/locations/{region}/vmSizes): an
// assignment on a workspace cannot cover it.

targetScope = 'subscription'

@description('Principal (object) id of Curfew\'s user-assigned managed identity.')
param principalId string

@description('The GUID of the prices role (infra/role-curfew-prices.json, the `name` that `az role definition create` prints).')
param roleDefinitionGuid string

resource curfewReadsPrices 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionGuid)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionGuid)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'Curfew: read Azure ML VM sizes and their estimated prices in this subscription'
  }
}

output roleAssignmentId string = curfewReadsPrices.id
